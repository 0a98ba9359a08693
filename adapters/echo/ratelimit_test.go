package echoadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/redis/go-redis/v9"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

func newLimiter(t *testing.T, rdb redis.UniversalClient, limit int) *ratelimit.RedisLimiter {
	t.Helper()
	return newLimiterOnError(t, rdb, limit, nil)
}

func newLimiterOnError(t *testing.T, rdb redis.UniversalClient, limit int, onError core.ErrorHandler) *ratelimit.RedisLimiter {
	t.Helper()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: limit, Window: time.Hour,
		Namespace: redistest.Prefix(t), Timeout: 5 * time.Second, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRateLimiterEchoConventions: BeforeFunc runs, the default identifier
// ignores X-Forwarded-For (unlike Echo's RealIP), handlers get Echo-style
// errors with Internal set.
func TestRateLimiterEchoConventions(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	var before int
	var denied []error
	cfg := echoadapter.DefaultRateLimiterConfig
	cfg.Limiter = newLimiter(t, rdb, 1)
	cfg.BeforeFunc = func(echo.Context) { before++ }
	cfg.DenyHandler = func(c echo.Context, id string, err error) error {
		denied = append(denied, err)
		if id != "ip:192.0.2.1" {
			t.Errorf("identifier: got %q, want ip:192.0.2.1", id)
		}
		return &echo.HTTPError{Code: http.StatusTooManyRequests, Message: "slow down", Internal: err}
	}
	e := echo.New()
	e.Use(echoadapter.RateLimiterWithConfig(cfg))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	codes := []int{}
	for _, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		codes = append(codes, w.Code)
	}
	if codes[0] != 200 || codes[1] != 429 || codes[2] != 429 {
		t.Errorf("statuses: got %v, want [200 429 429]", codes)
	}
	if before != 3 {
		t.Errorf("BeforeFunc: got %d calls, want 3", before)
	}
	if len(denied) != 2 || !errors.Is(denied[0], ratelimit.ErrLimited) {
		t.Errorf("DenyHandler errors: got %v, want 2 x ErrLimited", denied)
	}
}

// TestRateLimiterDefaultErrorsAreHTTPErrors checks the default handlers
// return *echo.HTTPError with Internal set, for custom error handlers.
func TestRateLimiterDefaultErrorsAreHTTPErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	cfg := echoadapter.DefaultRateLimiterConfig
	cfg.Limiter = newLimiter(t, rdb, 1)
	mw := echoadapter.RateLimiterWithConfig(cfg)
	cfgClosed := cfg
	cfgClosed.FailClosed = true
	mwClosed := echoadapter.RateLimiterWithConfig(cfgClosed)
	next := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	call := func(mw echo.MiddlewareFunc, remote string) error {
		e := echo.New()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		return mw(next)(e.NewContext(r, httptest.NewRecorder()))
	}
	if err := call(mw, "192.0.2.9:1"); err != nil {
		t.Fatalf("first request: got %v, want nil", err)
	}
	var he *echo.HTTPError
	if err := call(mw, "192.0.2.9:1"); !errors.As(err, &he) || he.Code != 429 || !errors.Is(he.Internal, ratelimit.ErrLimited) {
		t.Errorf("denied: got %#v, want *echo.HTTPError 429 with Internal ErrLimited", err)
	}
	costly := cfg
	costly.Cost = func(*http.Request) int { return 2 } // above the limit of 1
	if err := call(echoadapter.RateLimiterWithConfig(costly), "192.0.2.11:1"); !errors.As(err, &he) || he.Code != 429 ||
		!errors.Is(he.Internal, ratelimit.ErrLimited) || !errors.Is(he.Internal, ratelimit.ErrInvalidCost) {
		t.Errorf("cost above the limit: got %#v, want *echo.HTTPError 429 with Internal ErrLimited and ErrInvalidCost", err)
	}
	srv.Stop()
	// Another client: the first one is in the local deny cache.
	if err := call(mw, "192.0.2.10:1"); err != nil {
		t.Errorf("fail open: got %v, want nil", err)
	}
	if err := call(mwClosed, "192.0.2.10:1"); !errors.As(err, &he) || he.Code != 503 || he.Internal == nil {
		t.Errorf("fail closed: got %#v, want *echo.HTTPError 503 with Internal", err)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	var reported error
	l := newLimiterOnError(t, rdb, 2, func(_ context.Context, err error) { reported = err })
	// The interface of Echo's middleware.RateLimiterStore.
	var store interface{ Allow(string) (bool, error) } = echoadapter.NewStore(l)
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
	open := &echoadapter.Store{Limiter: l}
	if ok, err := open.Allow("192.0.2.2"); !ok || err != nil || reported == nil {
		t.Errorf("fail open: got %v, %v (reported %v), want true, nil, reported", ok, err, reported)
	}
	closed := &echoadapter.Store{Limiter: l, FailClosed: true}
	ok, err := closed.Allow("192.0.2.2")
	if ok || err == nil {
		t.Errorf("fail closed: got %v, %v, want false and an error", ok, err)
	}
	var he *echo.HTTPError
	if e := echoadapter.StoreDenyHandler(nil, "x", err); !errors.As(e, &he) || he.Code != 503 {
		t.Errorf("StoreDenyHandler(err): got %v, want 503", e)
	}
	if e := echoadapter.StoreDenyHandler(nil, "x", nil); !errors.As(e, &he) || he.Code != 429 {
		t.Errorf("StoreDenyHandler(nil): got %v, want 429", e)
	}
}

// TestStoreInEchoMiddleware plugs Store into Echo's own
// middleware.RateLimiter, identifying clients as the Store's doc advises
// (KeyFuncExtractor, not Echo's RealIP): a spoofed X-Forwarded-For does not
// buy a fresh bucket, a failure is open by default and 503 (never 429) when
// closed.
func TestStoreInEchoMiddleware(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	store := echoadapter.NewStore(newLimiter(t, srv.Client(t, &redis.Options{MaxRetries: -1}), 2))
	e := echo.New()
	e.Use(middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               store,
		IdentifierExtractor: echoadapter.KeyFuncExtractor(ratelimit.KeyByIP(nil)),
		DenyHandler:         echoadapter.StoreDenyHandler,
	}))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	status := func(peer, xff string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w.Code
	}
	got := []int{status("192.0.2.1:1", "198.51.100.1"), status("192.0.2.1:2", "198.51.100.2"), status("192.0.2.1:3", "198.51.100.3")}
	srv.Stop()
	got = append(got, status("192.0.2.2:1", "")) // fails open
	store.FailClosed = true
	got = append(got, status("192.0.2.3:1", "")) // fails closed: 503, not 429
	want := []int{200, 200, 429, 200, 503}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestRateLimiterRejectsNetHTTPHandlers: the embedded net/http-shaped
// handlers would be ignored under Echo; setting them is a configuration
// error, reported at construction.
func TestRateLimiterRejectsNetHTTPHandlers(t *testing.T) {
	t.Parallel()
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "echoadapter: RateLimiterWithConfig:") {
			t.Errorf("got panic %v, want one prefixed echoadapter: RateLimiterWithConfig:", p)
		}
	}()
	cfg := echoadapter.DefaultRateLimiterConfig
	cfg.Limiter = newLimiter(t, redistest.Standalone(t), 1)
	cfg.DenyHandler = nil
	cfg.GuardOptions.DenyHandler = func(http.ResponseWriter, *http.Request, ratelimit.Result, error) {}
	echoadapter.RateLimiterWithConfig(cfg)
}
