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

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/internal/rlhttp"
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

func hexDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// serve runs one request through g and returns the recorder and whether
// next was reached.
func serve(g *ratelimit.Guard, r *http.Request) (*httptest.ResponseRecorder, bool) {
	w := httptest.NewRecorder()
	reached := false
	g.Serve(w, r, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached = true
		w.WriteHeader(http.StatusOK)
	}))
	return w, reached
}

func newGuard(t *testing.T, opts ratelimit.GuardOptions) *ratelimit.Guard {
	t.Helper()
	g, err := ratelimit.NewGuard(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A cost above the limit can never fit: a Guard denies it (429, Retry-After
// at the window's reset) without counting it, whatever the failure policy,
// and without reporting an error; a cost below 1 proceeds uncounted.
func TestGuardCostOutsideTheLimit(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	clk := midWindow(time.Hour)
	left := windowStart(time.Hour).Add(time.Hour).Sub(clk.Now())
	c := core.NewFromRedis(rdb)
	noError := func(_ context.Context, err error) { t.Errorf("OnError(%v): want no call", err) }
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 3, Window: time.Hour, Namespace: prefix, Policy: "fw", Now: clk.Now, OnError: noError})
	m, err2 := ratelimit.NewMulti(c, ratelimit.Options{Namespace: prefix, Now: clk.Now, OnError: noError,
		Policies: []ratelimit.Policy{{Name: "hour", Limit: 5, Window: time.Hour}, {Name: "min", Limit: 3, Window: time.Minute}}})
	g, err3 := ratelimit.NewGCRA(c, ratelimit.Options{Limit: 3, Window: time.Hour, Namespace: prefix, Policy: "g", Now: clk.Now, OnError: noError})
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
			key := fmt.Sprintf("%s-%v", tc.name, closed)
			var denied []ratelimit.Result
			var deniedErr error
			guard := newGuard(t, ratelimit.GuardOptions{Limiter: tc.lim, FailClosed: closed,
				Cost: func(*http.Request) int { return cost },
				Key:  func(*http.Request) (string, error) { return key, nil },
				DenyHandler: func(w http.ResponseWriter, _ *http.Request, res ratelimit.Result, err error) {
					denied, deniedErr = append(denied, res), err
					w.WriteHeader(http.StatusTooManyRequests)
				},
				ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
					t.Errorf("ErrorHandler(%v): want no call", err)
				},
			})
			w, reached := serve(guard, request("192.0.2.1:1"))
			if w.Code != http.StatusTooManyRequests || reached || len(denied) != 1 || denied[0] != tc.want ||
				!errors.Is(deniedErr, ratelimit.ErrLimited) || !errors.Is(deniedErr, ratelimit.ErrInvalidCost) {
				t.Errorf("%s closed=%v cost 4: got %d (next reached %v), denied %+v, %v, want 429 with %+v and an error wrapping ErrLimited and ErrInvalidCost",
					tc.name, closed, w.Code, reached, denied, deniedErr, tc.want)
			}
			for _, cost = range []int{0, -1} {
				if w, reached := serve(guard, request("192.0.2.1:1")); w.Code != 200 || !reached || w.Header().Get("RateLimit") != "" {
					t.Errorf("%s cost %d: got %d, RateLimit %q, want to proceed undecided", tc.name, cost, w.Code, w.Header().Get("RateLimit"))
				}
			}
			if res, err := tc.lim.Peek(context.Background(), key); err != nil || res.Remaining != 3 {
				t.Errorf("%s: after the refused costs: got %+v, %v, want nothing counted (3 remaining)", tc.name, res, err)
			}
		}
	}
}

// TestGuardAnswers checks the default answers: 429 with Retry-After and
// the JSON (or problem+json) body, 403 for a key error (whatever the
// KeyFunc's error), 503 when failing closed; all with Cache-Control:
// no-store.
func TestGuardAnswers(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	prefix := redistest.Prefix(t)
	clk := midWindow(time.Hour)
	left := rlhttp.RetryAfter(windowStart(time.Hour).Add(time.Hour).Sub(clk.Now()))
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 1, Window: time.Hour,
		Namespace: prefix, Now: clk.Now, Timeout: 5 * time.Second, OnError: func(context.Context, error) {}})
	if err != nil {
		t.Fatal(err)
	}
	badKey := func(*http.Request) (string, error) { return "", errors.New("no session") }
	cases := []struct {
		name    string
		opts    ratelimit.GuardOptions
		status  int
		body    string
		problem bool
	}{
		{"allowed", ratelimit.GuardOptions{Limiter: l}, 200, "", false},
		{"denied", ratelimit.GuardOptions{Limiter: l}, 429,
			fmt.Sprintf(`{"error":"rate_limited","message":"rate limit exceeded","retry_after":%d}`, left), false},
		{"denied, problem", ratelimit.GuardOptions{Limiter: l, ProblemJSON: true}, 429,
			fmt.Sprintf(`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":%d}`, left), true},
		{"key error", ratelimit.GuardOptions{Limiter: l, Key: badKey}, 403,
			`{"error":"forbidden","message":"cannot identify the client"}`, false},
		{"key error, problem", ratelimit.GuardOptions{Limiter: l, Key: badKey, ProblemJSON: true}, 403,
			`{"type":"about:blank","title":"Forbidden","status":403,"detail":"cannot identify the client"}`, true},
	}
	for _, c := range cases {
		w, reached := serve(newGuard(t, c.opts), request("192.0.2.1:1"))
		if w.Code != c.status || reached != (c.status == 200) {
			t.Errorf("%s: got %d (next reached %v), want %d", c.name, w.Code, reached, c.status)
		}
		if c.status == 200 {
			continue
		}
		want := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
		if c.problem {
			want["Content-Type"] = "application/problem+json"
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s: got %q, want %q", c.name, k, got, v)
			}
		}
		if got := w.Body.String(); got != c.body+"\n" {
			t.Errorf("%s: body: got %s, want %s", c.name, got, c.body)
		}
	}
	srv.Stop()
	for _, closed := range []bool{false, true} {
		w, reached := serve(newGuard(t, ratelimit.GuardOptions{Limiter: l, FailClosed: closed}), request("192.0.2.2:1"))
		want, body := 200, ""
		if closed {
			want, body = 503, `{"error":"unavailable","message":"rate limiter unavailable"}`+"\n"
		}
		if w.Code != want || reached == closed || w.Body.String() != body || w.Header().Get("RateLimit") != "" {
			t.Errorf("closed=%v: got %d %q (next reached %v), RateLimit %q, want %d %q and no RateLimit header",
				closed, w.Code, w.Body.String(), reached, w.Header().Get("RateLimit"), want, body)
		}
	}
	if _, err := ratelimit.NewGuard(ratelimit.GuardOptions{}); !errors.Is(err, ratelimit.ErrInvalidOptions) {
		t.Errorf("NewGuard without a limiter: got %v, want ErrInvalidOptions", err)
	}
}

// TestGuardAttachesBudget: with a RedisLimiter, next gets a request whose
// context carries the client's request budget, so every rediskit call of
// the request shares it: a later call waits only what is left of it (here
// nothing: a budget of 1 ns).
func TestGuardAttachesBudget(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	c := core.NewFromRedis(rdb).WithRequestBudget(time.Nanosecond)
	l, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Namespace: redistest.Prefix(t), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(t, ratelimit.GuardOptions{Limiter: l, Cost: func(*http.Request) int { return 0 }})
	var got error
	g.Serve(httptest.NewRecorder(), request("192.0.2.1:1"), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, got = l.Peek(r.Context(), "k")
	}))
	if !errors.Is(got, ratelimit.ErrTimeout) {
		t.Errorf("Peek with the request's context after its budget: got %v, want ErrTimeout", got)
	}
	if _, err := l.Peek(context.Background(), "k"); err != nil {
		t.Errorf("Peek without a budget: got %v, want nil", err)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {time.Hour, 3600}} {
		if got := rlhttp.RetryAfter(c.d); got != c.want {
			t.Errorf("RetryAfter(%v): got %d, want %d", c.d, got, c.want)
		}
	}
}
