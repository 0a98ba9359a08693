package echov5adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/adapters/echov5"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// hour is a clock pinned one minute into the current hour: windows of an
// hour have 3540 s left.
func hour() func() time.Time {
	t := time.Now().Truncate(time.Hour).Add(time.Minute)
	return func() time.Time { return t }
}

func newLimiter(t *testing.T, rdb redis.UniversalClient, limit int) *ratelimit.RedisLimiter {
	t.Helper()
	return newLimiterOnError(t, rdb, limit, nil)
}

func newLimiterOnError(t *testing.T, rdb redis.UniversalClient, limit int, onError core.ErrorHandler) *ratelimit.RedisLimiter {
	t.Helper()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: limit, Window: time.Hour,
		Namespace: redistest.Prefix(t), Timeout: 5 * time.Second, OnError: onError, Now: hour()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRateLimiterConfigErrors(t *testing.T) {
	if _, err := (echov5adapter.RateLimiterConfig{}).ToMiddleware(); !errors.Is(err, ratelimit.ErrInvalidOptions) {
		t.Errorf("ToMiddleware without a Limiter: got %v, want ErrInvalidOptions", err)
	}
	defer func() {
		if p, _ := recover().(string); !strings.HasPrefix(p, "echov5adapter: ") {
			t.Errorf("RateLimiter(nil): got panic %q, want one prefixed echov5adapter:", p)
		}
	}()
	echov5adapter.RateLimiter(nil)
}

// TestRateLimiterEchoConventions: BeforeFunc runs, the default identifier
// ignores X-Forwarded-For, a DenyHandler of one's own gets the identifier
// and ErrLimited and its error is rendered by Echo.
func TestRateLimiterEchoConventions(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	var before int
	var denied []error
	cfg := echov5adapter.DefaultRateLimiterConfig
	cfg.Limiter = newLimiter(t, rdb, 1)
	cfg.BeforeFunc = func(*echo.Context) { before++ }
	cfg.DenyHandler = func(c *echo.Context, id string, err error) error {
		denied = append(denied, err)
		if id != "ip:192.0.2.1" {
			t.Errorf("identifier: got %q, want ip:192.0.2.1", id)
		}
		return echo.NewHTTPError(http.StatusTooManyRequests, "slow down").Wrap(err)
	}
	e := echo.New()
	e.Use(echov5adapter.RateLimiterWithConfig(cfg))
	e.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	var got []string
	for _, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		got = append(got, fmt.Sprint(w.Code, " ", strings.TrimSpace(w.Body.String())))
	}
	want := []string{"200 ok", `429 {"message":"slow down"}`, `429 {"message":"slow down"}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers: got %q, want %q", got, want)
	}
	if before != 3 {
		t.Errorf("BeforeFunc: got %d calls, want 3", before)
	}
	if len(denied) != 2 || !errors.Is(denied[0], ratelimit.ErrLimited) {
		t.Errorf("DenyHandler errors: got %v, want 2 x ErrLimited", denied)
	}
}

// TestRateLimiterDefaultErrorsAreHTTPErrors checks the default handlers
// write the net/http body and return *echo.HTTPError wrapping the cause,
// for logging middleware and custom error handlers.
func TestRateLimiterDefaultErrorsAreHTTPErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	cfg := echov5adapter.DefaultRateLimiterConfig
	cfg.Limiter = newLimiter(t, rdb, 1)
	mw := echov5adapter.RateLimiterWithConfig(cfg)
	cfgClosed := cfg
	cfgClosed.FailClosed = true
	mwClosed := echov5adapter.RateLimiterWithConfig(cfgClosed)
	next := func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) }
	call := func(mw echo.MiddlewareFunc, remote string) (error, *httptest.ResponseRecorder) {
		e := echo.New()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		return mw(next)(e.NewContext(r, w)), w
	}
	if err, _ := call(mw, "192.0.2.9:1"); err != nil {
		t.Fatalf("first request: got %v, want nil", err)
	}
	var he *echo.HTTPError
	err, w := call(mw, "192.0.2.9:1")
	if !errors.As(err, &he) || he.Code != 429 || !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("denied: got %#v, want *echo.HTTPError 429 wrapping ErrLimited", err)
	}
	if want := `{"error":"rate_limited","message":"rate limit exceeded","retry_after":3540}` + "\n"; w.Code != 429 || w.Body.String() != want {
		t.Errorf("denied: got %d %q, want 429 %q", w.Code, w.Body.String(), want)
	}
	costly := cfg
	costly.Cost = func(*http.Request) int { return 2 } // above the limit of 1
	if err, _ := call(echov5adapter.RateLimiterWithConfig(costly), "192.0.2.11:1"); !errors.As(err, &he) || he.Code != 429 ||
		!errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, ratelimit.ErrInvalidCost) {
		t.Errorf("cost above the limit: got %#v, want *echo.HTTPError 429 wrapping ErrLimited and ErrInvalidCost", err)
	}
	srv.Stop()
	// Another client: the first one is in the local deny cache.
	if err, _ := call(mw, "192.0.2.10:1"); err != nil {
		t.Errorf("fail open: got %v, want nil", err)
	}
	err, w = call(mwClosed, "192.0.2.10:1")
	if !errors.As(err, &he) || he.Code != 503 || he.Unwrap() == nil {
		t.Errorf("fail closed: got %#v, want *echo.HTTPError 503 wrapping the failure", err)
	}
	if want := `{"error":"unavailable","message":"rate limiter unavailable"}` + "\n"; w.Code != 503 || w.Body.String() != want {
		t.Errorf("fail closed: got %d %q, want 503 %q", w.Code, w.Body.String(), want)
	}
}

// TestRateLimiterCustomErrorHandler: an HTTPErrorHandler of the
// application's own gets the *echo.HTTPError with the response committed
// (Echo's committed check), so the body stays the rate limiter's.
func TestRateLimiterCustomErrorHandler(t *testing.T) {
	t.Parallel()
	rdb := redistest.StartServer(t, redistest.ServerOptions{}).Client(t, nil)
	var seen []string
	e := echo.NewWithConfig(echo.Config{HTTPErrorHandler: func(c *echo.Context, err error) {
		res, status := echo.ResolveResponseStatus(c.Response(), err)
		seen = append(seen, fmt.Sprint(status, " ", res != nil && res.Committed, " ", errors.Is(err, ratelimit.ErrLimited)))
		echo.DefaultHTTPErrorHandler(false)(c, err)
	}})
	e.Use(echov5adapter.RateLimiter(newLimiter(t, rdb, 1)))
	e.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	var w *httptest.ResponseRecorder
	for range 2 {
		w = httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	}
	if fmt.Sprint(seen) != "[429 true true]" {
		t.Errorf("error handler saw %v, want [429 true true] (status, committed, ErrLimited)", seen)
	}
	if !strings.HasPrefix(w.Body.String(), `{"error":"rate_limited",`) || strings.Count(w.Body.String(), "\n") != 1 {
		t.Errorf("body: got %q, want the rate limiter's JSON only", w.Body.String())
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	var reported error
	l := newLimiterOnError(t, rdb, 2, func(_ context.Context, err error) { reported = err })
	var store middleware.RateLimiterStore = echov5adapter.NewStore(l)
	var got []bool
	for range 3 {
		ok, err := store.Allow("192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if got[0] != true || got[1] != true || got[2] != false {
		t.Errorf("got %v, want [true true false]", got)
	}
	srv.Stop()
	open := &echov5adapter.Store{Limiter: l}
	if ok, err := open.Allow("192.0.2.2"); !ok || err != nil || reported == nil {
		t.Errorf("fail open: got %v, %v (reported %v), want true, nil, reported", ok, err, reported)
	}
	closed := &echov5adapter.Store{Limiter: l, FailClosed: true}
	ok, err := closed.Allow("192.0.2.2")
	if ok || err == nil {
		t.Errorf("fail closed: got %v, %v, want false and an error", ok, err)
	}
	var he *echo.HTTPError
	if e := echov5adapter.StoreDenyHandler(nil, "x", err); !errors.As(e, &he) || he.Code != 503 || !errors.Is(e, err) {
		t.Errorf("StoreDenyHandler(err): got %v, want 503 wrapping err", e)
	}
	if e := echov5adapter.StoreDenyHandler(nil, "x", nil); !errors.As(e, &he) || he.Code != 429 || !errors.Is(e, ratelimit.ErrLimited) {
		t.Errorf("StoreDenyHandler(nil): got %v, want 429 wrapping ErrLimited", e)
	}
}

// TestStoreInEchoMiddleware plugs Store into Echo's own
// middleware.RateLimiter, identifying clients as the Store's doc advises:
// a spoofed X-Forwarded-For does not buy a fresh bucket, a denial carries
// Retry-After (AllowContext), a failure is open by default and 503 (never
// 429) when closed.
func TestStoreInEchoMiddleware(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	store := echov5adapter.NewStore(newLimiter(t, srv.Client(t, &redis.Options{MaxRetries: -1}), 2))
	e := echo.New()
	e.Use(middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               store,
		IdentifierExtractor: echov5adapter.KeyFuncExtractor(ratelimit.KeyByIP(nil)),
		DenyHandler:         echov5adapter.StoreDenyHandler,
	}))
	e.GET("/", func(c *echo.Context) error { return c.String(http.StatusOK, "ok") })
	status := func(peer, xff string) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return fmt.Sprint(w.Code, "/", w.Header().Get("Retry-After"))
	}
	got := []string{status("192.0.2.1:1", "198.51.100.1"), status("192.0.2.1:2", "198.51.100.2"), status("192.0.2.1:3", "198.51.100.3")}
	srv.Stop()
	got = append(got, status("192.0.2.2:1", "")) // fails open
	store.FailClosed = true
	got = append(got, status("192.0.2.3:1", "")) // fails closed: 503, not 429
	want := []string{"200/", "200/", "429/3540", "200/", "503/"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v (status/Retry-After)", got, want)
	}
}
