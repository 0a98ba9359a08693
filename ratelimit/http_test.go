package ratelimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
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
		{"header", ratelimit.KeyByHeader("x-api-key"), "hdr:" + hexDigest("X-Api-Key\x00k1")[:32], false},
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

func hexDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A cost above the limit can never fit: Check denies it (429, Retry-After
// at the window's reset) without counting it, whatever the failure policy,
// and without calling OnError; a cost below 1 proceeds uncounted.
func TestCheckCostOutsideTheLimit(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	clk := midWindow(time.Hour)
	left := windowStart(time.Hour).Add(time.Hour).Sub(clk.Now())
	c := core.NewFromRedis(rdb)
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 3, Window: time.Hour, Prefix: prefix, Policy: "fw", Now: clk.Now})
	m, err2 := ratelimit.NewMulti(c, ratelimit.MultiOptions{Prefix: prefix, Now: clk.Now,
		Policies: []ratelimit.Policy{{Name: "hour", Limit: 5, Window: time.Hour}, {Name: "min", Limit: 3, Window: time.Minute}}})
	g, err3 := ratelimit.NewGCRA(c, ratelimit.GCRAOptions{Rate: 3, Period: time.Hour, Prefix: prefix, Policy: "g", Now: clk.Now})
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	minLeft := clk.Now().Truncate(time.Minute).Add(time.Minute).Sub(clk.Now())
	cases := []struct {
		name string
		lim  ratelimit.Limiter
		want ratelimit.Result // for cost 4
	}{
		{"fixed", fw, ratelimit.Result{Limit: 3, ResetAfter: left, RetryAfter: left, Policy: "fw", Window: time.Hour}},
		{"multi", m, ratelimit.Result{Limit: 3, ResetAfter: minLeft, RetryAfter: minLeft, Policy: "min", Window: time.Minute}},
		{"gcra", g, ratelimit.Result{Limit: 3, RetryAfter: time.Hour, Policy: "g", Window: time.Hour}},
	}
	for _, tc := range cases {
		for _, closed := range []bool{false, true} {
			cost := 4
			o := ratelimit.HTTPOptions{Limiter: tc.lim, FailClosed: closed, Cost: func(*http.Request) int { return cost },
				OnError: func(_ *http.Request, err error) { t.Errorf("%s: OnError(%v): want no call", tc.name, err) }}
			key := fmt.Sprintf("%s-%v", tc.name, closed)
			v := o.Check(request("192.0.2.1:1"), key)
			if v.Status != http.StatusTooManyRequests || !v.Decided || v.Result != tc.want ||
				!errors.Is(v.Err, ratelimit.ErrLimited) || !errors.Is(v.Err, ratelimit.ErrInvalidCost) {
				t.Errorf("%s closed=%v cost 4: got %+v, want 429 with %+v and an error wrapping ErrLimited and ErrInvalidCost",
					tc.name, closed, v, tc.want)
			}
			for _, cost = range []int{0, -1} {
				if v := o.Check(request("192.0.2.1:1"), key); v.Status != 0 || v.Decided || v.Err != nil {
					t.Errorf("%s cost %d: got %+v, want to proceed undecided", tc.name, cost, v)
				}
			}
			if res, err := tc.lim.Peek(context.Background(), key); err != nil || res.Remaining != 3 {
				t.Errorf("%s: after the refused costs: got %+v, %v, want nothing counted (3 remaining)", tc.name, res, err)
			}
		}
	}
}

func TestRetryAfterSecondsAndErrorStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {time.Hour, 3600}} {
		if got := ratelimit.RetryAfterSeconds(ratelimit.Result{RetryAfter: c.d}); got != c.want {
			t.Errorf("RetryAfterSeconds(%v): got %d, want %d", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("%w: no header", ratelimit.ErrNoKey), http.StatusForbidden},
		{ratelimit.ErrTimeout, http.StatusServiceUnavailable},
		{errors.New("redis: connection refused"), http.StatusServiceUnavailable},
	} {
		if got := ratelimit.ErrorStatus(c.err); got != c.want {
			t.Errorf("ErrorStatus(%v): got %d, want %d", c.err, got, c.want)
		}
	}
}
