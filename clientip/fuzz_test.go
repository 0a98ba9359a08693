package clientip_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/clientip"
)

// FuzzClientIP checks, for every supported header, that ClientIP never panics and returns either the peer
// or an address written in the header, normalized (no zone, IPv4 unmapped). Lines of the header value are
// sent as separate header lines. Seeds are in testdata/fuzz/FuzzClientIP.
func FuzzClientIP(f *testing.F) {
	f.Add("192.0.2.66, 198.51.100.7, 203.0.113.1", "203.0.113.2:4242")
	resolvers := map[string]*clientip.Resolver{}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"} {
		r, err := clientip.New(clientip.Options{TrustedProxies: testProxies, Header: h})
		if err != nil {
			f.Fatal(err)
		}
		resolvers[h] = r
	}
	f.Fuzz(func(t *testing.T, value, remoteAddr string) {
		lines := strings.Split(value, "\n")
		peer, peerErr := (&clientip.Resolver{}).ClientIP(&http.Request{RemoteAddr: remoteAddr})
		candidates := headerAddrs(value)
		for h, r := range resolvers {
			req := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{h: lines}}
			got, err := r.ClientIP(req)
			key, keyErr := r.Key(req)
			if peerErr != nil {
				if !errors.Is(err, clientip.ErrNoClientIP) || !errors.Is(keyErr, clientip.ErrNoClientIP) {
					t.Fatalf("%s: remote %q: got %v, %v, want ErrNoClientIP", h, remoteAddr, err, keyErr)
				}
				continue
			}
			if err != nil || keyErr != nil {
				t.Fatalf("%s: remote %q: got errors %v, %v, want none", h, remoteAddr, err, keyErr)
			}
			if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
				t.Fatalf("%s: got %#v, want a valid unmapped address without zone", h, got)
			}
			if key != clientip.GroupKey(got) || key == "" {
				t.Fatalf("%s: Key got %q, want %q", h, key, clientip.GroupKey(got))
			}
			if got == peer {
				continue
			}
			if !testProxiesContain(peer) {
				t.Fatalf("%s: untrusted peer %v: got %v, want the peer", h, peer, got)
			}
			if !candidates[got] {
				t.Fatalf("%s: header %q: got %v, want the peer %v or an address from the header", h, value, got, peer)
			}
		}
	})
}

func testProxiesContain(a netip.Addr) bool {
	for _, p := range testProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// headerAddrs returns every address written in s, found independently of the package's parser: s is cut
// at every separator of either header syntax and each piece is tried as an address, an address with port,
// and an address stripped of brackets, zone and port.
func headerAddrs(s string) map[netip.Addr]bool {
	addrs := map[netip.Addr]bool{}
	add := func(a netip.Addr) { addrs[a.WithZone("").Unmap()] = true }
	for _, tok := range strings.FieldsFunc(s, func(c rune) bool { return strings.ContainsRune(",;=\" \t\n", c) }) {
		if a, err := netip.ParseAddr(tok); err == nil {
			add(a)
		}
		if ap, err := netip.ParseAddrPort(tok); err == nil {
			add(ap.Addr())
		}
		core := strings.TrimPrefix(tok, "[")
		if i := strings.IndexAny(core, "%]"); i >= 0 {
			core = core[:i]
		}
		if a, err := netip.ParseAddr(core); err == nil {
			add(a)
		}
	}
	return addrs
}
