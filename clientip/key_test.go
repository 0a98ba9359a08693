package clientip_test

import (
	"net/netip"
	"testing"

	"github.com/rediskit/rediskit/clientip"
)

func TestGroupKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ addr, want string }{
		{"198.51.100.7", "198.51.100.7"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::7%eth0", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			if got := clientip.GroupKey(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("GroupKey(%s): got %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
	if got := clientip.GroupKey(netip.Addr{}); got != "" {
		t.Errorf("GroupKey(zero): got %q, want \"\"", got)
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	r := newResolver(t, "")
	key := func(remote string) string {
		k, err := r.Key(request(remote, "X-Forwarded-For"))
		noErr(t, err)
		return k
	}
	a, b := key("[2001:db8:1:2::1]:80"), key("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:80")
	c := key("[2001:db8:1:3::1]:80")
	if a != b {
		t.Errorf("same /64: got %q and %q, want equal keys", a, b)
	}
	if a == c {
		t.Errorf("different /64: got %q and %q, want different keys", a, c)
	}
	if got, want := key("[::ffff:198.51.100.7]:80"), key("198.51.100.7:80"); got != want {
		t.Errorf("IPv4-mapped: got %q, want %q", got, want)
	}
}

// BenchmarkKey measures Key for a request that crossed three trusted proxies (two hops in the header
// plus the peer, with a spoofed entry left of the client) against the baseline of an untrusted peer,
// whose header is never read.
func BenchmarkKey(b *testing.B) {
	cases := []struct {
		name, header, remote, value string
	}{
		{"peer-baseline", "X-Forwarded-For", "198.51.100.7:4242", "192.0.2.66"},
		{"xff-3-hop", "X-Forwarded-For", "203.0.113.3:4242", "192.0.2.66, 198.51.100.7, 203.0.113.1, 203.0.113.2"},
		{"forwarded-3-hop", "Forwarded", "203.0.113.3:4242", "for=192.0.2.66, for=198.51.100.7;proto=https, for=203.0.113.1, for=203.0.113.2"},
		{"xff-3-hop-ipv6", "X-Forwarded-For", "[2001:db8:ffff::3]:4242", "2001:db8:1:2::7, 2001:db8:ffff::1, 2001:db8:ffff::2"},
	}
	for _, bc := range cases {
		r := newResolver(b, bc.header)
		req := request(bc.remote, bc.header, bc.value)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Key(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Key(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
