package echoadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// exampleRedis returns a client to an empty Redis of the test harness (any
// Redis will do) and a func that closes it.
func exampleRedis() (*core.Client, func()) {
	rdb, done := redistest.ExampleClient()
	return core.NewFromRedis(rdb), done
}

// get sends one GET from peer through e and returns the recorder.
func get(e *echo.Echo, target, peer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = peer
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func ExampleRateLimiterWithConfig() {
	c, stop := exampleRedis()
	defer stop()
	limiter, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 2, Window: time.Hour})
	if err != nil {
		panic(err)
	}
	cfg := echoadapter.DefaultRateLimiterConfig
	cfg.Limiter = limiter
	cfg.LegacyHeaders = true
	// Per client IP and route (Echo's c.Path(), which the middleware copies
	// to the request's Pattern): the clientip.Resolver given to KeyByIP
	// would list trusted proxies (nil: the TCP peer only).
	cfg.Key = ratelimit.Combine(ratelimit.KeyByIP(nil), ratelimit.KeyByRoute(nil))
	e := echo.New()
	e.Use(echoadapter.RateLimiterWithConfig(cfg))
	e.GET("/search", func(c echo.Context) error { return c.String(http.StatusOK, "results") })
	e.GET("/items", func(c echo.Context) error { return c.String(http.StatusOK, "items") })

	for _, target := range []string{"/search", "/search", "/search", "/items"} {
		w := get(e, target, "192.0.2.1:1234")
		fmt.Println(target, w.Code, "remaining:", w.Header().Get("X-RateLimit-Remaining"))
	}
	// Output:
	// /search 200 remaining: 1
	// /search 200 remaining: 0
	// /search 429 remaining: 0
	// /items 200 remaining: 1
}

func ExampleHTTPCache() {
	c, stop := exampleRedis()
	defer stop()
	cache, err := httpcache.New(c, httpcache.Options{Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}, CanonicalHost: "example.com"}})
	if err != nil {
		panic(err)
	}
	calls := 0
	e := echo.New()
	e.Use(echoadapter.HTTPCache(cache))
	e.GET("/products", func(c echo.Context) error {
		calls++
		c.Response().Header().Set("Cache-Control", "public, max-age=60")
		return c.String(http.StatusOK, "product list")
	})

	for range 2 {
		w := get(e, "http://example.com/products", "192.0.2.1:1234")
		fmt.Println(w.Code, w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	fmt.Println("handler calls:", calls)
	// Output:
	// 200 product list | rediskit; fwd=miss; fwd-status=200; ttl=60; stored
	// 200 product list | rediskit; hit; ttl=60
	// handler calls: 1
}

func ExampleViewCountWithConfig() {
	c, stop := exampleRedis()
	defer stop()
	views, err := viewcount.New(c, viewcount.Options{Secret: []byte("a secret of 16+ bytes")})
	if err != nil {
		panic(err)
	}
	// Items name the route's :id parameter, visitors are client IPs (the
	// TCP peer).
	tracker, err := viewcount.NewTracker(views, viewcount.TrackerOptions{
		Item: func(r *http.Request) (string, error) { return "post-" + r.PathValue("id"), nil },
	})
	if err != nil {
		panic(err)
	}
	cfg := echoadapter.DefaultViewCountConfig
	cfg.Tracker = tracker
	e := echo.New()
	e.Use(echoadapter.ViewCountWithConfig(cfg))
	e.GET("/posts/:id", func(c echo.Context) error {
		if c.Param("id") != "42" {
			return echo.ErrNotFound // not a view
		}
		return c.String(http.StatusOK, "post 42")
	})

	for _, visit := range []struct{ path, peer string }{
		{"/posts/42", "192.0.2.1:1000"},
		{"/posts/42", "192.0.2.1:1001"}, // a reload: counts once
		{"/posts/42", "198.51.100.7:2000"},
		{"/posts/43", "192.0.2.1:1002"},
	} {
		fmt.Println(visit.path, get(e, visit.path, visit.peer).Code)
	}
	s, err := views.Counts(context.Background(), "post-42", 1)
	fmt.Println("total", s.Total, "unique", s.Unique, err)
	// Output:
	// /posts/42 200
	// /posts/42 200
	// /posts/42 200
	// /posts/43 404
	// total 2 unique 2 <nil>
}
