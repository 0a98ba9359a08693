package clientip_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/clientip"
)

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    clientip.Options
		wantErr string
	}{
		{"zero", clientip.Options{}, ""},
		{"header any case", clientip.Options{Header: "x-real-ip"}, ""},
		{"unsupported header", clientip.Options{Header: "X-Client-IP"}, `clientip: unsupported header "X-Client-IP"`},
		{"invalid prefix", clientip.Options{TrustedProxies: []netip.Prefix{{}}}, "clientip: invalid trusted proxy prefix"},
		{"short mapped prefix", clientip.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/95")}}, "clientip: trusted proxy prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := clientip.New(tc.opts)
			if tc.wantErr == "" {
				noErr(t, err)
				if r == nil {
					t.Fatal("got nil Resolver, want one")
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("got error %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewNormalizesPrefixes(t *testing.T) {
	t.Parallel()
	unmasked := netip.PrefixFrom(netip.MustParseAddr("203.0.113.77"), 24)
	mapped := netip.MustParsePrefix("::ffff:192.0.2.0/120")
	r := mustNew(t, clientip.Options{TrustedProxies: []netip.Prefix{unmasked, mapped}})
	for _, peer := range []string{"203.0.113.1:80", "192.0.2.1:80", "[::ffff:192.0.2.1]:80"} {
		got, err := r.ClientIP(request(peer, "X-Forwarded-For", "198.51.100.7"))
		noErr(t, err)
		if want := netip.MustParseAddr("198.51.100.7"); got != want {
			t.Errorf("peer %s: got %v, want %v", peer, got, want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := clientip.ParsePrefixes("203.0.113.0/24", " 198.51.100.7 ", "2001:db8::/32", "::1", "192.0.2.9/24", "::ffff:198.51.100.0/120")
	noErr(t, err)
	want := []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("198.51.100.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "proxy.example", "203.0.113.0/33", "2001:db8::1%eth0", "198.51.100.7:80"} {
		if _, err := clientip.ParsePrefixes("203.0.113.0/24", bad); err == nil || !strings.HasPrefix(err.Error(), "clientip: ") {
			t.Errorf("ParsePrefixes(%q): got error %v, want a clientip: error", bad, err)
		}
	}
	if got, err := clientip.ParsePrefixes(); err != nil || len(got) != 0 {
		t.Errorf("ParsePrefixes(): got %v, %v, want empty, nil", got, err)
	}
}

func TestMustParsePrefixesPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		msg, _ := recover().(string)
		if !strings.HasPrefix(msg, "clientip: ") {
			t.Errorf("got panic %q, want one starting with \"clientip: \"", msg)
		}
	}()
	clientip.MustParsePrefixes("203.0.113.0/24", "not-an-ip")
}
