package nethttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rediskit/rediskit/adapters/nethttp"
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

func ExampleRateLimit() {
	c, stop := exampleRedis()
	defer stop()
	limiter, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 2, Window: time.Hour})
	if err != nil {
		panic(err)
	}
	// Per client IP (the TCP peer: no proxy trusted), failing open.
	h := nethttp.RateLimit(limiter)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))

	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("RateLimit-Policy"), "retry after set:", w.Header().Get("Retry-After") != "")
	}
	// Output:
	// 200 "default";q=2;w=3600 retry after set: false
	// 200 "default";q=2;w=3600 retry after set: false
	// 429 "default";q=2;w=3600 retry after set: true
}

func ExampleHTTPCache() {
	c, stop := exampleRedis()
	defer stop()
	cache, err := httpcache.New(c, httpcache.Options{Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}, CanonicalHost: "example.com"}})
	if err != nil {
		panic(err)
	}
	calls := 0
	h := nethttp.HTTPCache(cache)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "product list")
	}))

	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://example.com/products", nil))
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
	// Items are URL paths, visitors client IPs (the TCP peer).
	tracker, err := viewcount.NewTracker(views, viewcount.TrackerOptions{})
	if err != nil {
		panic(err)
	}
	h := nethttp.ViewCount(tracker)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/posts/42" {
			http.NotFound(w, r) // not a view
			return
		}
		io.WriteString(w, "post 42")
	}))

	for _, visit := range []struct{ path, peer string }{
		{"/posts/42", "192.0.2.1:1000"},
		{"/posts/42", "192.0.2.1:1001"}, // a reload: counts once
		{"/posts/42", "198.51.100.7:2000"},
		{"/posts/43", "192.0.2.1:1002"},
	} {
		r := httptest.NewRequest(http.MethodGet, visit.path, nil)
		r.RemoteAddr = visit.peer
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(visit.path, w.Code)
	}
	s, err := views.Counts(context.Background(), "/posts/42", 1)
	fmt.Println("total", s.Total, "unique", s.Unique, err)
	st := views.Stats()
	fmt.Println("recorded", st.Recorded, "counted", st.Counted, "deduplicated", st.Deduplicated, "errors", st.Errors)
	// Output:
	// /posts/42 200
	// /posts/42 200
	// /posts/42 200
	// /posts/43 404
	// total 2 unique 2 <nil>
	// recorded 3 counted 2 deduplicated 1 errors 0
}
