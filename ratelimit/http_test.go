package ratelimit_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/ratelimit"
)

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestKeyByIP(t *testing.T) {
	t.Parallel()
	trusted, err := clientip.New(clientip.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		res  *clientip.Resolver
		req  *http.Request
		want string
	}{
		{"peer only", nil, request("198.51.100.7:4000"), "ip:198.51.100.7"},
		{"untrusted peer ignores XFF", nil, request("198.51.100.7:4000", "192.0.2.1"), "ip:198.51.100.7"},
		{"untrusted peer, resolver with proxies", trusted, request("198.51.100.7:4000", "192.0.2.1"), "ip:198.51.100.7"},
		{"one trusted proxy", trusted, request("203.0.113.5:443", "192.0.2.1"), "ip:192.0.2.1"},
		{"chain: rightmost untrusted wins", trusted, request("203.0.113.5:443", "198.51.100.1, 192.0.2.9, 203.0.113.6"), "ip:192.0.2.9"},
		{"chain over several lines", trusted, request("203.0.113.5:443", "198.51.100.1", "192.0.2.9, 203.0.113.6"), "ip:192.0.2.9"},
		{"IPv6 grouped by /64", nil, request("[2001:db8:1:2::1]:80"), "ip:2001:db8:1:2::/64"},
		{"IPv6 same /64", nil, request("[2001:db8:1:2:ffff:ffff:ffff:9]:80"), "ip:2001:db8:1:2::/64"},
		{"IPv6 other /64", nil, request("[2001:db8:1:3::1]:80"), "ip:2001:db8:1:3::/64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := ratelimit.KeyByIP(c.res)(c.req)
			if err != nil || got != c.want {
				t.Errorf("got %q, %v, want %q", got, err, c.want)
			}
		})
	}
	if _, err := ratelimit.KeyByIP(nil)(request("")); !errors.Is(err, ratelimit.ErrNoKey) {
		t.Errorf("no RemoteAddr: got %v, want ErrNoKey", err)
	}
}

// TestRandomXFFFromUntrustedPeerShareOneKey: a client cannot pick its bucket.
func TestRandomXFFFromUntrustedPeerShareOneKey(t *testing.T) {
	t.Parallel()
	trusted, _ := clientip.New(clientip.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	for _, res := range []*clientip.Resolver{nil, trusted} {
		keys := map[string]bool{}
		for range 1000 {
			xff := fmt.Sprintf("192.0.2.%d, 203.0.113.%d", rand.IntN(256), rand.IntN(256))
			k, err := ratelimit.KeyByIP(res)(request("198.51.100.7:1234", xff))
			if err != nil {
				t.Fatal(err)
			}
			keys[k] = true
		}
		if len(keys) != 1 || !keys["ip:198.51.100.7"] {
			t.Errorf("got keys %v, want only ip:198.51.100.7", keys)
		}
	}
}

func TestOtherKeyFuncs(t *testing.T) {
	t.Parallel()
	r := request("192.0.2.1:1")
	r.Header.Set("X-Api-Key", "k1")
	r.Pattern = "GET /items/{id}"
	user := func(*http.Request) (string, error) { return "alice", nil }
	nobody := func(*http.Request) (string, error) { return "", nil }
	cases := []struct {
		name    string
		fn      ratelimit.KeyFunc
		want    string
		wantErr bool
	}{
		{"header", ratelimit.KeyByHeader("x-api-key"), "hdr:k1", false},
		{"missing header", ratelimit.KeyByHeader("Authorization"), "", true},
		{"user", ratelimit.KeyByUser(user), "user:alice", false},
		{"no user", ratelimit.KeyByUser(nobody), "", true},
		{"route", ratelimit.KeyByRoute(nil), "route:GET /items/{id}", false},
		{"custom route", ratelimit.KeyByRoute(func(*http.Request) string { return "items" }), "route:items", false},
		{"combined", ratelimit.Combine(ratelimit.KeyByIP(nil), ratelimit.KeyByRoute(nil)), "ip:192.0.2.1|route:GET /items/{id}", false},
		{"combined error", ratelimit.Combine(ratelimit.KeyByIP(nil), ratelimit.KeyByHeader("X-None")), "", true},
	}
	for _, c := range cases {
		got, err := c.fn(r)
		if got != c.want || (err != nil) != c.wantErr || (err != nil && !errors.Is(err, ratelimit.ErrNoKey)) {
			t.Errorf("%s: got %q, %v, want %q (error %v, wrapping ErrNoKey)", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		res    ratelimit.Result
		legacy bool
		want   map[string]string
	}{
		{"allowed", ratelimit.Result{Allowed: true, Limit: 100, Remaining: 50, ResetAfter: 30 * time.Second, Window: time.Minute}, false,
			map[string]string{"RateLimit-Policy": `"default";q=100;w=60`, "RateLimit": `"default";r=50;t=30`}},
		{"rounding up", ratelimit.Result{Allowed: true, Limit: 10, Remaining: 9, ResetAfter: 29001 * time.Millisecond, Window: 1500 * time.Millisecond, Policy: "burst"}, false,
			map[string]string{"RateLimit-Policy": `"burst";q=10;w=2`, "RateLimit": `"burst";r=9;t=30`}},
		{"denied", ratelimit.Result{Limit: 100, ResetAfter: 2100 * time.Millisecond, RetryAfter: 2100 * time.Millisecond, Window: time.Hour}, true,
			map[string]string{"RateLimit-Policy": `"default";q=100;w=3600`, "RateLimit": `"default";r=0;t=3`, "Retry-After": "3",
				"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}},
		{"denied, tiny retry", ratelimit.Result{Limit: 1, RetryAfter: time.Millisecond, ResetAfter: time.Millisecond, Window: time.Second}, false,
			map[string]string{"RateLimit-Policy": `"default";q=1;w=1`, "RateLimit": `"default";r=0;t=1`, "Retry-After": "1"}},
	}
	for _, c := range cases {
		h := http.Header{}
		ratelimit.SetHeaders(h, c.res, c.legacy)
		if len(h) != len(c.want) {
			t.Errorf("%s: got %d headers %v, want %d", c.name, len(h), h, len(c.want))
		}
		for k, v := range c.want {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s: got %q, want %q", c.name, k, got, v)
			}
		}
	}
}

func TestErrorBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body ratelimit.ErrorBody
		want string
	}{
		{ratelimit.ErrorBody{Status: 429, RetryAfter: 30}, `{"error":"rate_limited","message":"rate limit exceeded","retry_after":30}`},
		{ratelimit.ErrorBody{Status: 429, RetryAfter: 30, Problem: true}, `{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":30}`},
		{ratelimit.ErrorBody{Status: 503}, `{"error":"unavailable","message":"rate limiter unavailable"}`},
		{ratelimit.ErrorBody{Status: 403, Problem: true}, `{"type":"about:blank","title":"Forbidden","status":403,"detail":"cannot identify the client"}`},
	}
	for _, c := range cases {
		got, _ := c.body.MarshalJSON()
		if string(got) != c.want {
			t.Errorf("%+v: got %s, want %s", c.body, got, c.want)
		}
	}
}
