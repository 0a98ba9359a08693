package adaptertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

const denied429 = `{"error":"rate_limited","message":"rate limit exceeded","retry_after":3540}` + "\n"

// hour is a clock pinned one minute into the current hour: windows of an
// hour have 3540 s left.
func hour() func() time.Time {
	t := time.Now().Truncate(time.Hour).Add(time.Minute)
	return func() time.Time { return t }
}

// rlServer starts a redis-server of the case's own (its keys are checked
// for TTLs at the end) and returns a client to it.
func rlServer(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redistest.StartServer(t, redistest.ServerOptions{}).Client(t, &redis.Options{MaxRetries: -1})
	checkTTLs(t, rdb)
	return rdb
}

// fixedWindow is an hour-long fixed window of limit under namespace ns
// (default namespace when empty) and policy (default when empty).
func fixedWindow(t *testing.T, rdb redis.UniversalClient, ns, policy string, limit int, onError core.ErrorHandler) *ratelimit.RedisLimiter {
	t.Helper()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: limit, Window: time.Hour,
		Namespace: ns, Policy: policy, Now: hour(), Timeout: 5 * time.Second, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// anyRoute serves every path and method with h.
func anyRoute(h http.Handler) []Route { return []Route{{Path: "/{rest...}", Handler: h}} }

func rlStep(method, target, remote string, status int, headers map[string]string, body string) Step {
	return Step{Method: method, Target: target, Remote: remote, Status: status, Headers: headers, Body: Body(body)}
}

func rateLimitCases() []tableCase {
	simple := func(name string, opts func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions, skip Skip, steps ...Step) tableCase {
		return tableCase{"ratelimit/" + name, func(t *testing.T, a Adapter) (http.Handler, []Step) {
			rdb := rlServer(t)
			return a.Router(anyRoute(ok), a.RateLimit(opts(t, rdb), skip)), steps
		}}
	}
	return []tableCase{
		simple("allowed then denied", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			return ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 2, nil)}
		}, nil,
			rlStep("GET", "/", "192.0.2.1:1", 200, map[string]string{"RateLimit-Policy": `"default";q=2;w=3600`, "RateLimit": `"default";r=1;t=3540`, "Retry-After": ""}, "ok"),
			Step{Method: "GET", Target: "/", Remote: "192.0.2.1:2", Header: []string{"X-Forwarded-For: 198.51.100.9"}, Status: 200,
				Headers: map[string]string{"RateLimit": `"default";r=0;t=3540`}, Body: Body("ok")},
			rlStep("GET", "/", "192.0.2.1:3", 429, map[string]string{"RateLimit": `"default";r=0;t=3540`, "Retry-After": "3540",
				"Content-Type": "application/json", "Cache-Control": "no-store", "X-RateLimit-Limit": ""}, denied429),
			rlStep("GET", "/", "192.0.2.2:1", 200, map[string]string{"RateLimit": `"default";r=1;t=3540`}, "ok"),
		),
		simple("problem json and legacy headers", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			return ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 1, nil), ProblemJSON: true, LegacyHeaders: true}
		}, nil,
			rlStep("GET", "/", "", 200, map[string]string{"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3540"}, "ok"),
			rlStep("GET", "/", "", 429, map[string]string{"Content-Type": "application/problem+json", "Retry-After": "3540"},
				`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":3540}`+"\n"),
		),
		simple("skipper, cost and per-route limits", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			b := fixedWindow(t, rdb, "rl-b", "", 5, nil)
			return ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 3, nil),
				Cost: func(r *http.Request) int {
					if r.Method == http.MethodPost {
						return 2
					}
					return 1
				},
				LimiterFor: func(r *http.Request) ratelimit.Limiter {
					if r.URL.Path == "/b" {
						return b
					}
					return nil
				}}
		}, func(r *http.Request) bool { return r.URL.Path == "/health" },
			rlStep("GET", "/health", "", 200, map[string]string{"RateLimit": ""}, "ok"),
			rlStep("POST", "/", "", 200, map[string]string{"RateLimit": `"default";r=1;t=3540`}, "ok"),
			rlStep("POST", "/", "", 429, map[string]string{"RateLimit": `"default";r=1;t=3540`}, denied429),
			rlStep("GET", "/", "", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"),
			rlStep("GET", "/b", "", 200, map[string]string{"RateLimit-Policy": `"default";q=5;w=3600`}, "ok"),
			rlStep("GET", "/health", "", 200, map[string]string{"RateLimit": ""}, "ok"),
		),
		simple("cost above the limit is a 429, even failing closed", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			return ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 3, nil), FailClosed: true,
				Cost: func(r *http.Request) int { n, _ := strconv.Atoi(r.URL.Query().Get("cost")); return n }}
		}, nil,
			rlStep("GET", "/?cost=4", "", 429, map[string]string{"RateLimit": `"default";r=0;t=3540`, "Retry-After": "3540"}, denied429),
			rlStep("GET", "/?cost=0", "", 200, map[string]string{"RateLimit": "", "Retry-After": ""}, "ok"),
			rlStep("GET", "/?cost=3", "", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"),
		),
		simple("per-route limiters with the default namespace are independent", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			// Same client, same window, one Redis: only the policy names
			// tell the limiters apart.
			api, login := fixedWindow(t, rdb, "", "api", 5, nil), fixedWindow(t, rdb, "", "login", 2, nil)
			return ratelimit.GuardOptions{LimiterFor: func(r *http.Request) ratelimit.Limiter {
				if r.URL.Path == "/login" {
					return login
				}
				return api
			}}
		}, nil,
			rlStep("POST", "/login", "", 200, map[string]string{"RateLimit": `"login";r=1;t=3540`}, "ok"),
			rlStep("POST", "/login", "", 200, map[string]string{"RateLimit": `"login";r=0;t=3540`}, "ok"),
			rlStep("POST", "/login", "", 429, map[string]string{"RateLimit": `"login";r=0;t=3540`}, denied429),
			rlStep("GET", "/api", "", 200, map[string]string{"RateLimit-Policy": `"api";q=5;w=3600`, "RateLimit": `"api";r=4;t=3540`}, "ok"),
		),
		simple("key error is 403", func(t *testing.T, rdb *redis.Client) ratelimit.GuardOptions {
			return ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 1, nil), Key: ratelimit.KeyByHeader("X-Api-Key")}
		}, nil,
			rlStep("GET", "/", "", 403, map[string]string{"Content-Type": "application/json", "RateLimit": ""},
				`{"error":"forbidden","message":"cannot identify the client"}`+"\n"),
		),
		{"ratelimit/route pattern and path values reach the key", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			// One bucket per route and per {tenant}: KeyByRoute(nil) reads the
			// pattern the framework matched, PathValue its parameter.
			rdb := rlServer(t)
			tenant := func(r *http.Request) (string, error) { return "tenant:" + r.PathValue("tenant"), nil }
			mw := a.RateLimit(ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 1, nil),
				Key: ratelimit.Combine(ratelimit.KeyByRoute(nil), tenant)}, nil)
			routes := []Route{{Method: "GET", Path: "/t/{tenant}/a", Handler: ok}, {Method: "GET", Path: "/t/{tenant}/b", Handler: ok}}
			return a.Router(routes, mw), []Step{
				rlStep("GET", "/t/x/a", "", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"),
				rlStep("GET", "/t/x/a", "", 429, nil, denied429),
				rlStep("GET", "/t/x/b", "", 200, nil, "ok"), // another route
				rlStep("GET", "/t/y/a", "", 200, nil, "ok"), // another tenant
			}
		}},
		{"ratelimit/random X-Forwarded-For from an untrusted peer shares one bucket", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			rdb := rlServer(t)
			h := a.Router(anyRoute(ok), a.RateLimit(ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 100, nil)}, nil))
			var steps []Step
			for i := range 300 {
				want := 200
				if i >= 100 {
					want = 429
				}
				steps = append(steps, Step{Method: "GET", Target: "/", Remote: "198.51.100.7:5000",
					Header: []string{fmt.Sprintf("X-Forwarded-For: 192.0.2.%d", rand.IntN(256))}, Status: want})
			}
			return h, steps
		}},
		redisDownCase(false), redisDownCase(true),
	}
}

// redisDownCase: with Redis stopped, fail open lets requests through and
// fail closed answers 503, never 429; either way the limiter reports each
// failure once, with the request in ctx, and the middleware does not
// report it again.
func redisDownCase(closed bool) tableCase {
	name := "ratelimit/redis down, fail open"
	status, body := 200, "ok"
	if closed {
		name = "ratelimit/redis down, fail closed"
		status, body = 503, `{"error":"unavailable","message":"rate limiter unavailable"}`+"\n"
	}
	return tableCase{name, func(t *testing.T, a Adapter) (http.Handler, []Step) {
		srv := redistest.StartServer(t, redistest.ServerOptions{})
		var reported, withRequest atomic.Int64
		l := fixedWindow(t, srv.Client(t, &redis.Options{MaxRetries: -1}), "rl", "", 1, func(ctx context.Context, _ error) {
			reported.Add(1)
			if core.RequestFromContext(ctx) != nil {
				withRequest.Add(1)
			}
		})
		srv.Stop()
		h := a.Router(anyRoute(ok), a.RateLimit(ratelimit.GuardOptions{Limiter: l, FailClosed: closed}, nil))
		steps := make([]Step, 3)
		for i := range steps {
			n := int64(i + 1)
			steps[i] = Step{Method: "GET", Target: "/", Status: status, Body: Body(body),
				Headers: map[string]string{"RateLimit": "", "Retry-After": ""},
				Check: func(t *testing.T, _ *httptest.ResponseRecorder) {
					if reported.Load() != n || withRequest.Load() != n {
						t.Errorf("OnError: got %d reports (%d with the request), want %d with it", reported.Load(), withRequest.Load(), n)
					}
				}}
		}
		return h, steps
	}}
}

// checkTTLs registers a cleanup that fails t if any key of rdb, a server of
// the case's own, has no TTL: the invariant every limiter keeps. It runs
// before the server stops (cleanups run last registered first).
func checkTTLs(t *testing.T, rdb *redis.Client) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		var bad []string
		iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			if ttl, err := rdb.PTTL(ctx, iter.Val()).Result(); err == nil && ttl == -1 {
				bad = append(bad, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning keys: %v", err)
		}
		if len(bad) > 0 {
			t.Errorf("keys without TTL: got %q, want none", bad)
		}
	})
}
