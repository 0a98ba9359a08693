package clientip_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/clientip"
)

// Trusted proxies in the tests: loopback, 203.0.113.0/24 and 2001:db8:ffff::/48. Clients live in
// 198.51.100.0/24, 192.0.2.0/24 and the rest of 2001:db8::/32.
var testProxies = clientip.MustParsePrefixes("127.0.0.0/8", "::1", "203.0.113.0/24", "2001:db8:ffff::/48")

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
}

func newResolver(t testing.TB, header string) *clientip.Resolver {
	t.Helper()
	r, err := clientip.New(clientip.Options{TrustedProxies: testProxies, Header: header})
	noErr(t, err)
	return r
}

// request builds a request from a peer and header lines; each element of lines is one header line.
func request(remoteAddr, header string, lines ...string) *http.Request {
	req := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{}}
	for _, l := range lines {
		req.Header.Add(header, l)
	}
	return req
}

type resolveCase struct {
	name   string
	remote string
	lines  []string
	want   string
}

func runResolveCases(t *testing.T, header string, cases []resolveCase) {
	t.Helper()
	r := newResolver(t, header)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.ClientIP(request(tc.remote, header, tc.lines...))
			noErr(t, err)
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Errorf("ClientIP(%q, %s: %q): got %v, want %v", tc.remote, header, tc.lines, got, want)
			}
		})
	}
}

func TestClientIPXForwardedFor(t *testing.T) {
	t.Parallel()
	runResolveCases(t, "X-Forwarded-For", []resolveCase{
		{"untrusted peer, no header", "198.51.100.7:1234", nil, "198.51.100.7"},
		{"untrusted peer ignores header", "198.51.100.7:1234", []string{"192.0.2.66"}, "198.51.100.7"},
		{"untrusted peer ignores trusted-looking header", "198.51.100.7:1234", []string{"203.0.113.1"}, "198.51.100.7"},
		{"trusted peer, no header", "203.0.113.1:80", nil, "203.0.113.1"},
		{"trusted peer, empty header", "203.0.113.1:80", []string{""}, "203.0.113.1"},
		{"single proxy", "203.0.113.1:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"chain of two proxies", "203.0.113.2:80", []string{"198.51.100.7, 203.0.113.1"}, "198.51.100.7"},
		{"spoofed leftmost ignored", "203.0.113.2:80", []string{"192.0.2.66, 192.0.2.67, 198.51.100.7, 203.0.113.1"}, "198.51.100.7"},
		{"spoofed trusted-looking leftmost ignored", "203.0.113.2:80", []string{"203.0.113.9, 198.51.100.7"}, "198.51.100.7"},
		{"all hops trusted: leftmost", "203.0.113.2:80", []string{"203.0.113.5, 203.0.113.1"}, "203.0.113.5"},
		{"garbage rightmost: peer", "203.0.113.2:80", []string{"198.51.100.7, garbage"}, "203.0.113.2"},
		{"unknown after trusted hop", "203.0.113.2:80", []string{"192.0.2.66, unknown, 203.0.113.1"}, "203.0.113.1"},
		{"obfuscated entry", "203.0.113.2:80", []string{"_hidden, 203.0.113.1"}, "203.0.113.1"},
		{"bracketed IPv4 is garbage", "203.0.113.2:80", []string{"[198.51.100.7]"}, "203.0.113.2"},
		{"bad port is garbage", "203.0.113.2:80", []string{"198.51.100.7:99999"}, "203.0.113.2"},
		{"lines joined in order", "203.0.113.2:80", []string{"192.0.2.66", "198.51.100.7, 203.0.113.1"}, "198.51.100.7"},
		{"client on earlier line", "203.0.113.2:80", []string{"192.0.2.66, 198.51.100.7", "203.0.113.1"}, "198.51.100.7"},
		{"IPv4 with port", "203.0.113.1:80", []string{"198.51.100.7:1234"}, "198.51.100.7"},
		{"IPv6 with port", "203.0.113.1:80", []string{"[2001:db8:1:2::7]:443"}, "2001:db8:1:2::7"},
		{"bracketed IPv6", "203.0.113.1:80", []string{"[2001:db8:1:2::7]"}, "2001:db8:1:2::7"},
		{"whitespace and empty entries", "203.0.113.1:80", []string{" ,\t198.51.100.7 ,, ", ""}, "198.51.100.7"},
		{"IPv6 peer and chain", "[2001:db8:ffff::2]:443", []string{"2001:db8:1:2::7, 2001:db8:ffff::1"}, "2001:db8:1:2::7"},
		{"loopback IPv6 peer", "[::1]:5555", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped peer is trusted as IPv4", "[::ffff:203.0.113.1]:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped entry unmapped", "203.0.113.1:80", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped trusted hop skipped", "203.0.113.2:80", []string{"198.51.100.7, [::ffff:203.0.113.1]:80"}, "198.51.100.7"},
		{"IPv4-mapped untrusted peer unmapped", "[::ffff:198.51.100.7]:80", []string{"192.0.2.66"}, "198.51.100.7"},
		{"zone in peer dropped", "[2001:db8:1:2::7%eth0]:80", nil, "2001:db8:1:2::7"},
		{"zone in trusted peer dropped", "[::1%lo]:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"zone in entry dropped", "203.0.113.1:80", []string{"2001:db8:1:2::7%eth0"}, "2001:db8:1:2::7"},
		{"peer without port", "203.0.113.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv6 peer without port", "2001:db8:1:2::7", []string{"192.0.2.66"}, "2001:db8:1:2::7"},
		{"bracketed IPv6 peer without port", "[2001:db8:1:2::7]", nil, "2001:db8:1:2::7"},
	})
}

func TestClientIPXRealIP(t *testing.T) {
	t.Parallel()
	runResolveCases(t, "X-Real-IP", []resolveCase{
		{"trusted peer", "203.0.113.1:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"untrusted peer", "198.51.100.7:80", []string{"192.0.2.66"}, "198.51.100.7"},
		{"garbage", "203.0.113.1:80", []string{"unknown"}, "203.0.113.1"},
		{"proxy line after client line", "203.0.113.1:80", []string{"192.0.2.66", "198.51.100.7"}, "198.51.100.7"},
		{"IPv6 with port", "203.0.113.1:80", []string{"[2001:db8:1:2::7]:80"}, "2001:db8:1:2::7"},
	})
}

func TestClientIPForwarded(t *testing.T) {
	t.Parallel()
	runResolveCases(t, "Forwarded", []resolveCase{
		{"single proxy", "203.0.113.1:80", []string{"for=198.51.100.7"}, "198.51.100.7"},
		{"untrusted peer", "198.51.100.7:80", []string{"for=192.0.2.66"}, "198.51.100.7"},
		{"other parameters", "203.0.113.1:80", []string{"by=203.0.113.1;For=198.51.100.7;proto=https;host=example.com"}, "198.51.100.7"},
		{"chain with spoofed leftmost", "203.0.113.2:80", []string{"for=192.0.2.66, for=198.51.100.7;proto=https, for=203.0.113.1"}, "198.51.100.7"},
		{"quoted IPv6 with port", "203.0.113.1:80", []string{`for="[2001:db8:1:2::7]:4711"`}, "2001:db8:1:2::7"},
		{"quoted IPv4 with port", "203.0.113.1:80", []string{`for="198.51.100.7:4711"`}, "198.51.100.7"},
		{"lines joined in order", "203.0.113.2:80", []string{"for=192.0.2.66", "for=198.51.100.7, for=203.0.113.1"}, "198.51.100.7"},
		{"unknown", "203.0.113.1:80", []string{"for=unknown"}, "203.0.113.1"},
		{"obfuscated after trusted hop", "203.0.113.2:80", []string{"for=_hidden, for=203.0.113.1"}, "203.0.113.1"},
		{"element without for", "203.0.113.1:80", []string{"for=192.0.2.66, proto=https"}, "203.0.113.1"},
		{"duplicate for", "203.0.113.1:80", []string{"for=198.51.100.7;for=192.0.2.66"}, "203.0.113.1"},
		{"comma inside quotes is one element", "203.0.113.1:80", []string{`for="198.51.100.7, 192.0.2.66"`}, "203.0.113.1"},
		{"quoted-pair rejected", "203.0.113.1:80", []string{`for="198.51.100.\7"`}, "203.0.113.1"},
		{"client's unbalanced quote cannot swallow proxy element", "203.0.113.1:80", []string{`for="192.0.2.66, for=198.51.100.7`}, "198.51.100.7"},
		{"X-Forwarded-For style value is garbage", "203.0.113.1:80", []string{"198.51.100.7"}, "203.0.113.1"},
	})
}

func TestHeaderIgnoredUnlessSelected(t *testing.T) {
	t.Parallel()
	req := request("203.0.113.1:80", "X-Forwarded-For", "192.0.2.66")
	req.Header.Set("X-Real-IP", "192.0.2.67")
	req.Header.Set("Forwarded", "for=198.51.100.7")
	got, err := newResolver(t, "forwarded").ClientIP(req)
	noErr(t, err)
	if want := netip.MustParseAddr("198.51.100.7"); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestClientIPErrors(t *testing.T) {
	t.Parallel()
	r := newResolver(t, "")
	for _, remote := range []string{"", "@", "pipe", "198.51.100.7:port", "[198.51.100.7]:80", " "} {
		t.Run(fmt.Sprintf("%q", remote), func(t *testing.T) {
			t.Parallel()
			got, err := r.ClientIP(request(remote, "X-Forwarded-For", "198.51.100.7"))
			if !errors.Is(err, clientip.ErrNoClientIP) {
				t.Errorf("got error %v, want ErrNoClientIP", err)
			}
			if got.IsValid() {
				t.Errorf("got %v, want the zero Addr", got)
			}
			key, err := r.Key(request(remote, "X-Forwarded-For", "198.51.100.7"))
			if !errors.Is(err, clientip.ErrNoClientIP) || key != "" {
				t.Errorf("Key: got %q, %v, want \"\", ErrNoClientIP", key, err)
			}
		})
	}
	if _, err := r.ClientIP(nil); !errors.Is(err, clientip.ErrNoClientIP) {
		t.Errorf("nil request: got %v, want ErrNoClientIP", err)
	}
}

func TestZeroAndNilResolverTrustNoProxy(t *testing.T) {
	t.Parallel()
	var nilResolver *clientip.Resolver
	for name, r := range map[string]*clientip.Resolver{"zero": {}, "nil": nilResolver, "New": mustNew(t, clientip.Options{})} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := request("127.0.0.1:80", "X-Forwarded-For", "198.51.100.7")
			req.Header.Set("Forwarded", "for=198.51.100.7")
			req.Header.Set("X-Real-IP", "198.51.100.7")
			got, err := r.ClientIP(req)
			noErr(t, err)
			if want := netip.MustParseAddr("127.0.0.1"); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func mustNew(t *testing.T, opts clientip.Options) *clientip.Resolver {
	t.Helper()
	r, err := clientip.New(opts)
	noErr(t, err)
	return r
}

// TestSpoofedHeadersShareOneKey sends 1,000 random forged headers: from an untrusted peer they all map to
// the peer's key, and behind a trusted proxy to the address that proxy appended.
func TestSpoofedHeadersShareOneKey(t *testing.T) {
	t.Parallel()
	resolvers := []struct{ header, proxyEntry string }{
		{"X-Forwarded-For", "198.51.100.7"},
		{"X-Real-IP", "198.51.100.7"},
		{"Forwarded", "for=198.51.100.7"},
	}
	for i, rv := range resolvers {
		t.Run(rv.header, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(i)))
			r := newResolver(t, rv.header)
			for range 1000 {
				spoof := randomHeader(rng)
				req := request("192.0.2.1:5555", rv.header, spoof...)
				if got, err := r.Key(req); err != nil || got != "192.0.2.1" {
					t.Fatalf("untrusted peer, %s: %q: got %q, %v, want 192.0.2.1", rv.header, spoof, got, err)
				}
				// A trusted proxy appends what it saw, on the same line or a new one.
				lines := append([]string(nil), spoof...)
				if rng.IntN(2) == 0 || len(lines) == 0 {
					lines = append(lines, rv.proxyEntry)
				} else {
					lines[len(lines)-1] += ", " + rv.proxyEntry
				}
				req = request("203.0.113.1:5555", rv.header, lines...)
				if got, err := r.Key(req); err != nil || got != "198.51.100.7" {
					t.Fatalf("trusted peer, %s: %q: got %q, %v, want 198.51.100.7", rv.header, lines, got, err)
				}
			}
		})
	}
}

// randomHeader returns up to three header lines of random entries: documentation-range and trusted-range
// addresses in every notation, garbage and quotes.
func randomHeader(rng *rand.Rand) []string {
	lines := make([]string, rng.IntN(4))
	for i := range lines {
		entries := make([]string, rng.IntN(6))
		for j := range entries {
			entries[j] = randomEntry(rng)
		}
		lines[i] = strings.Join(entries, []string{",", ", ", " ,\t", ";"}[rng.IntN(4)])
	}
	return lines
}

func randomEntry(rng *rand.Rand) string {
	v4 := func() string {
		return fmt.Sprintf("%s.%d", []string{"192.0.2", "198.51.100", "203.0.113", "127.0.0"}[rng.IntN(4)], rng.IntN(256))
	}
	v6 := func() string { return fmt.Sprintf("2001:db8:%x::%x", rng.IntN(1<<16), rng.IntN(1<<16)) }
	switch rng.IntN(10) {
	case 0:
		return v4()
	case 1:
		return fmt.Sprintf("%s:%d", v4(), rng.IntN(70000))
	case 2:
		return v6()
	case 3:
		return fmt.Sprintf("[%s]:%d", v6(), rng.IntN(70000))
	case 4:
		return "::ffff:" + v4()
	case 5:
		return "for=" + v4()
	case 6:
		return fmt.Sprintf(`for="[%s]:%d"`, v6(), rng.IntN(70000))
	case 7:
		return []string{"unknown", "_hidden", `"`, `\`, "", " ", "for=", "[", "::1%lo"}[rng.IntN(9)]
	default:
		b := make([]byte, rng.IntN(20))
		for k := range b {
			b[k] = byte(rng.IntN(256))
		}
		return string(b)
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	r := newResolver(t, "X-Forwarded-For")
	trustedHops := func(n int) []string {
		hops := make([]string, n)
		for i := range hops {
			hops[i] = fmt.Sprintf("203.0.113.%d", 100-i) // 203.0.113.100 is the rightmost when reversed below
		}
		for i, j := 0, len(hops)-1; i < j; i, j = i+1, j-1 {
			hops[i], hops[j] = hops[j], hops[i]
		}
		return hops
	}
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"63 trusted hops then client", []string{"198.51.100.7, " + strings.Join(trustedHops(63), ", ")}, "198.51.100.7"},
		{"64 trusted hops: stop at the 64th", []string{"198.51.100.7, " + strings.Join(trustedHops(64), ", ")}, "203.0.113.37"},
		{"one entry per line counts too", append([]string{"198.51.100.7"}, trustedHops(64)...), "203.0.113.37"},
		{"long header, client near the right", []string{strings.Repeat("192.0.2.66, ", 2000) + "198.51.100.7, 203.0.113.1"}, "198.51.100.7"},
		{"padding past 8 KiB: last trusted hop", []string{"198.51.100.7," + strings.Repeat(" ", 9000) + ", 203.0.113.1"}, "203.0.113.1"},
		{"padding over lines past 8 KiB", []string{"198.51.100.7", strings.Repeat(",", 5000), strings.Repeat(",", 5000), "203.0.113.1"}, "203.0.113.1"},
		{"padding just under 8 KiB", []string{"198.51.100.7," + strings.Repeat(" ", 8000) + ", 203.0.113.1"}, "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.ClientIP(request("203.0.113.200:80", "X-Forwarded-For", tc.lines...))
			noErr(t, err)
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
