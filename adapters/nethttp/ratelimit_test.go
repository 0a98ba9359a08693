package nethttp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// mwConfig is what a case configures; each adapter maps it to its own
// config type, so one table checks that both answer alike.
type mwConfig struct {
	opts ratelimit.GuardOptions
	key  ratelimit.KeyFunc
	skip func(*http.Request) bool
}

var adapters = []struct {
	name  string
	build func(mwConfig) http.Handler
}{
	{"nethttp", func(c mwConfig) http.Handler {
		opts := c.opts
		opts.Key = c.key
		mw := nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{GuardOptions: opts, Skipper: c.skip})
		return mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	}},
	{"echo", func(c mwConfig) http.Handler {
		cfg := echoadapter.DefaultRateLimiterConfig
		cfg.GuardOptions = c.opts
		if c.key != nil {
			cfg.IdentifierExtractor = echoadapter.KeyFuncExtractor(c.key)
		}
		if c.skip != nil {
			cfg.Skipper = func(e echo.Context) bool { return c.skip(e.Request()) }
		}
		e := echo.New()
		e.Use(echoadapter.RateLimiterWithConfig(cfg))
		e.Any("/*", func(e echo.Context) error { return e.String(http.StatusOK, "ok") })
		return e
	}},
}

// hour is a clock pinned one minute into the current hour: windows of an
// hour have 3540 s left.
func hour() func() time.Time {
	t := time.Now().Truncate(time.Hour).Add(time.Minute)
	return func() time.Time { return t }
}

type step struct {
	method, path, remote, xff string
	status                    int
	headers                   map[string]string // "" value: header must be absent
	body                      string
}

func limiter(t *testing.T, rdb redis.UniversalClient, prefix string, limit int) ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: limit, Window: time.Hour,
		Namespace: prefix, Now: hour(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// policyLimiter is a limiter with the default prefix and the given policy
// name, as an application configures per-route limits.
func policyLimiter(t *testing.T, rdb redis.UniversalClient, policy string, limit int) ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: limit, Window: time.Hour,
		Policy: policy, Now: hour(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRateLimitAdaptersAgree(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	checkTTLs(t, rdb)
	const denied429 = `{"error":"rate_limited","message":"rate limit exceeded","retry_after":3540}` + "\n"
	cases := []struct {
		name  string
		cfg   func(prefix string) mwConfig
		steps []step
	}{
		{"allowed then denied", func(p string) mwConfig {
			return mwConfig{opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, p, 2)}}
		}, []step{
			{"GET", "/", "192.0.2.1:1", "", 200, map[string]string{"RateLimit-Policy": `"default";q=2;w=3600`, "RateLimit": `"default";r=1;t=3540`, "Retry-After": ""}, "ok"},
			{"GET", "/", "192.0.2.1:2", "198.51.100.9", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"},
			{"GET", "/", "192.0.2.1:3", "", 429, map[string]string{"RateLimit": `"default";r=0;t=3540`, "Retry-After": "3540",
				"Content-Type": "application/json", "X-RateLimit-Limit": ""}, denied429},
			{"GET", "/", "192.0.2.2:1", "", 200, map[string]string{"RateLimit": `"default";r=1;t=3540`}, "ok"},
		}},
		{"problem json and legacy headers", func(p string) mwConfig {
			return mwConfig{opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, p, 1), ProblemJSON: true, LegacyHeaders: true}}
		}, []step{
			{"GET", "/", "192.0.2.1:1", "", 200, map[string]string{"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3540"}, "ok"},
			{"GET", "/", "192.0.2.1:1", "", 429, map[string]string{"Content-Type": "application/problem+json", "Retry-After": "3540"},
				`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":3540}` + "\n"},
		}},
		{"skipper, cost and per-route limits", func(p string) mwConfig {
			b := limiter(t, rdb, p+"-b", 5)
			return mwConfig{
				opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, p, 3),
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
					}},
				skip: func(r *http.Request) bool { return r.URL.Path == "/health" },
			}
		}, []step{
			{"GET", "/health", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": ""}, "ok"},
			{"POST", "/", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": `"default";r=1;t=3540`}, "ok"},
			{"POST", "/", "192.0.2.1:1", "", 429, map[string]string{"RateLimit": `"default";r=1;t=3540`}, denied429},
			{"GET", "/", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"},
			{"GET", "/b", "192.0.2.1:1", "", 200, map[string]string{"RateLimit-Policy": `"default";q=5;w=3600`}, "ok"},
			{"GET", "/health", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": ""}, "ok"},
		}},
		{"cost above the limit is a 429, even failing closed", func(p string) mwConfig {
			return mwConfig{opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, p, 3), FailClosed: true,
				Cost: func(r *http.Request) int { n, _ := strconv.Atoi(r.URL.Query().Get("cost")); return n }}}
		}, []step{
			{"GET", "/?cost=4", "192.0.2.1:1", "", 429, map[string]string{"RateLimit": `"default";r=0;t=3540`, "Retry-After": "3540"}, denied429},
			{"GET", "/?cost=0", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": "", "Retry-After": ""}, "ok"},
			{"GET", "/?cost=3", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": `"default";r=0;t=3540`}, "ok"},
		}},
		{"per-route limiters with the default prefix are independent", func(p string) mwConfig {
			// Two routes, same client, same window, one Redis: only the
			// policy names tell the limiters apart.
			api := policyLimiter(t, rdb, "api", 5)
			login := policyLimiter(t, rdb, "login", 2)
			return mwConfig{opts: ratelimit.GuardOptions{LimiterFor: func(r *http.Request) ratelimit.Limiter {
				if r.URL.Path == "/login" {
					return login
				}
				return api
			}}, key: ratelimit.Combine(ratelimit.KeyByIP(nil), func(*http.Request) (string, error) { return p, nil })}
		}, []step{
			{"POST", "/login", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": `"login";r=1;t=3540`}, "ok"},
			{"POST", "/login", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": `"login";r=0;t=3540`}, "ok"},
			{"POST", "/login", "192.0.2.1:1", "", 429, map[string]string{"RateLimit": `"login";r=0;t=3540`}, denied429},
			{"GET", "/api", "192.0.2.1:1", "", 200, map[string]string{"RateLimit-Policy": `"api";q=5;w=3600`, "RateLimit": `"api";r=4;t=3540`}, "ok"},
		}},
		{"key error is 403", func(p string) mwConfig {
			return mwConfig{opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, p, 1)}, key: ratelimit.KeyByHeader("X-Api-Key")}
		}, []step{
			{"GET", "/", "192.0.2.1:1", "", 403, map[string]string{"Content-Type": "application/json", "RateLimit": ""},
				`{"error":"forbidden","message":"cannot identify the client"}` + "\n"},
		}},
	}
	for _, c := range cases {
		for _, a := range adapters {
			t.Run(c.name+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				h := a.build(c.cfg(redistest.Prefix(t)))
				for i, s := range c.steps {
					checkStep(t, h, i, s)
				}
			})
		}
	}
}

func checkStep(t *testing.T, h http.Handler, i int, s step) {
	t.Helper()
	r := httptest.NewRequest(s.method, s.path, nil)
	r.RemoteAddr = s.remote
	if s.xff != "" {
		r.Header.Set("X-Forwarded-For", s.xff)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != s.status {
		t.Errorf("step %d: status: got %d, want %d", i, w.Code, s.status)
	}
	for k, v := range s.headers {
		if got := w.Header().Get(k); got != v {
			t.Errorf("step %d: %s: got %q, want %q", i, k, got, v)
		}
	}
	if got := w.Body.String(); got != s.body {
		t.Errorf("step %d: body: got %q, want %q", i, got, s.body)
	}
}

// TestRateLimitRandomXFF: 1,000 requests with random X-Forwarded-For from
// one untrusted peer share one bucket of 100.
func TestRateLimitRandomXFF(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	checkTTLs(t, rdb)
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			h := a.build(mwConfig{opts: ratelimit.GuardOptions{Limiter: limiter(t, rdb, redistest.Prefix(t), 100)}})
			ok := 0
			for range 1000 {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = "198.51.100.7:5000"
				r.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", rand.IntN(256)))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code == http.StatusOK {
					ok++
				}
			}
			if ok != 100 {
				t.Errorf("got %d allowed, want 100", ok)
			}
		})
	}
}

// TestRateLimitRedisStopped: fail open lets requests through and the
// limiter reports the error (once: the middleware does not report it
// again); fail closed answers 503, never 429.
func TestRateLimitRedisStopped(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	var reported atomic.Int64
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 1,
		OnError: func(ctx context.Context, _ error) {
			if core.RequestFromContext(ctx) == nil {
				t.Error("OnError: got no request in ctx, want the request")
			}
			reported.Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for _, a := range adapters {
		for _, closed := range []bool{false, true} {
			reported.Store(0)
			h := a.build(mwConfig{opts: ratelimit.GuardOptions{Limiter: l, FailClosed: closed}})
			want, body := 200, "ok"
			if closed {
				want, body = 503, `{"error":"unavailable","message":"rate limiter unavailable"}`+"\n"
			}
			for i := range 3 {
				checkStep(t, h, i, step{"GET", "/", "192.0.2.1:1", "", want, map[string]string{"RateLimit": "", "Retry-After": ""}, body})
			}
			if reported.Load() != 3 {
				t.Errorf("%s closed=%v: OnError: got %d calls, want 3", a.name, closed, reported.Load())
			}
		}
	}
}

// TestRateLimitDefaultOnErrorLogs: without OnError, the failures either
// adapter fails open on are Warn records through slog.Default(), at most
// one per second, never with the query. Not parallel: it replaces
// slog.Default().
func TestRateLimitDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1})), ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for _, a := range adapters {
		h := a.build(mwConfig{opts: ratelimit.GuardOptions{Limiter: l}})
		for i := range 2 {
			checkStep(t, h, i, step{"GET", "/?token=do-not-log", "192.0.2.1:1", "", 200, map[string]string{"RateLimit": ""}, "ok"})
		}
	}
	got := logs.String()
	if n := strings.Count(got, `level=WARN msg="ratelimit: redis failure" err=`); n < 1 || n > 2 {
		t.Errorf("log: got %d Warn records, want 1 (or 2 if a second passed) for 4 failures:\n%s", n, got)
	}
	if strings.Contains(got, "do-not-log") {
		t.Errorf("log: got %q, want no query", got)
	}
	if st := l.Stats(); st.Errors != 4 {
		t.Errorf("Stats: got %+v, want 4 errors", st)
	}
}

// TestStoreDefaultOnErrorLogs: a Store leaves the report of a failure to
// the limiter (no second record of its own) and never logs the
// identifier, fail open or closed. Not parallel: it replaces
// slog.Default().
func TestStoreDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1})), ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	const id = "id-do-not-log"
	if ok, err := echoadapter.NewStore(l).Allow(id); !ok || err != nil {
		t.Errorf("fail open: got %v, %v, want true, nil", ok, err)
	}
	if ok, err := (&echoadapter.Store{Limiter: l, FailClosed: true}).Allow(id); ok || err == nil {
		t.Errorf("fail closed: got %v, %v, want false and an error", ok, err)
	}
	got := logs.String()
	if strings.Contains(got, "echoadapter") {
		t.Errorf("log: got %q, want no record of the Store's own", got)
	}
	if strings.Contains(got, id) {
		t.Errorf("log: got %q, want no identifier", got)
	}
	if st := l.Stats(); st.Errors != 2 {
		t.Errorf("Stats: got %+v, want 2 errors reported by the limiter", st)
	}
}

func TestRateLimitPanicsOnBadConfig(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r)[:8] != "nethttp:" {
			t.Errorf("got panic %v, want one prefixed nethttp:", r)
		}
	}()
	nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{})
}
