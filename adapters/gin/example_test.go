package ginadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
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
func get(e *gin.Engine, target, peer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = peer
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func ExampleRateLimitWithConfig() {
	c, stop := exampleRedis()
	defer stop()
	limiter, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 2, Window: time.Hour})
	if err != nil {
		panic(err)
	}
	e := gin.New()
	e.Use(ginadapter.RateLimitWithConfig(ginadapter.RateLimitConfig{
		GuardOptions: ratelimit.GuardOptions{
			Limiter:       limiter,
			LegacyHeaders: true,
			// Per client IP and route (Gin's c.FullPath(), which the
			// middleware copies to the request's Pattern): the
			// clientip.Resolver given to KeyByIP would list trusted proxies
			// (nil: the TCP peer only).
			Key: ratelimit.Combine(ratelimit.KeyByIP(nil), ratelimit.KeyByRoute(nil)),
		},
		Skipper: func(c *gin.Context) bool { return c.FullPath() == "/health" },
	}))
	e.GET("/search", func(c *gin.Context) { c.String(http.StatusOK, "results") })
	e.GET("/items", func(c *gin.Context) { c.String(http.StatusOK, "items") })
	e.GET("/health", func(c *gin.Context) { c.String(http.StatusOK, "up") })

	for _, target := range []string{"/search", "/search", "/search", "/items", "/health"} {
		w := get(e, target, "192.0.2.1:1234")
		fmt.Println(target, w.Code, "remaining:", w.Header().Get("X-RateLimit-Remaining"))
	}
	// Output:
	// /search 200 remaining: 1
	// /search 200 remaining: 0
	// /search 429 remaining: 0
	// /items 200 remaining: 1
	// /health 200 remaining:
}

func ExampleHTTPCache() {
	c, stop := exampleRedis()
	defer stop()
	cache, err := httpcache.New(c, httpcache.Options{Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}, CanonicalHost: "example.com"}})
	if err != nil {
		panic(err)
	}
	calls := 0
	e := gin.New()
	e.Use(ginadapter.HTTPCache(cache))
	e.GET("/products", func(c *gin.Context) {
		calls++
		c.Header("Cache-Control", "public, max-age=60")
		c.String(http.StatusOK, "product list")
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

func ExampleViewCount() {
	c, stop := exampleRedis()
	defer stop()
	views, err := viewcount.New(c, viewcount.Options{Secret: []byte("a secret of 16+ bytes")})
	if err != nil {
		panic(err)
	}
	// Items are the route's :id parameter (copied to r.PathValue("id")),
	// visitors are client IPs (the TCP peer).
	tracker, err := viewcount.NewTracker(views, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("id")})
	if err != nil {
		panic(err)
	}
	e := gin.New()
	e.GET("/posts/:id", ginadapter.ViewCount(tracker), func(c *gin.Context) {
		if c.Param("id") != "42" {
			c.AbortWithStatus(http.StatusNotFound) // not a view
			return
		}
		c.String(http.StatusOK, "post 42")
	})

	for _, visit := range []struct{ path, peer string }{
		{"/posts/42", "192.0.2.1:1000"},
		{"/posts/42", "192.0.2.1:1001"}, // a reload: counts once
		{"/posts/42", "198.51.100.7:2000"},
		{"/posts/43", "192.0.2.1:1002"},
	} {
		fmt.Println(visit.path, get(e, visit.path, visit.peer).Code)
	}
	s, err := views.Counts(context.Background(), "42", 1)
	fmt.Println("total", s.Total, "unique", s.Unique, err)
	// Output:
	// /posts/42 200
	// /posts/42 200
	// /posts/42 200
	// /posts/43 404
	// total 2 unique 2 <nil>
}
