package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func Example() {
	rdb, done := redistest.ExampleClient() // any Redis; redis.NewClient(&redis.Options{Addr: ...})
	defer done()

	cache, err := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{
		Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}, CanonicalHost: "example.com"},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	products := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Cache-Tag", "products")
		io.WriteString(w, "product list")
	})
	// The middleware: adapters/nethttp.HTTPCache(cache) does the same.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cache.Serve(w, r, products) })

	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/products", nil))
		fmt.Println(w.Code, w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	n, _ := cache.PurgeTag(context.Background(), "products")
	fmt.Println("handler calls:", calls, "purged:", n)
	// Output:
	// 200 product list | rediskit; fwd=miss; fwd-status=200; ttl=60; stored
	// 200 product list | rediskit; hit; ttl=60
	// handler calls: 1 purged: 1
}

func ExampleCache_Storable() {
	cache, _ := httpcache.New(core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})), httpcache.Options{})
	r := httptest.NewRequest("GET", "http://example.com/me", nil)
	r.Header.Set("Authorization", "Bearer token")
	for _, cc := range []string{"max-age=60", "public, max-age=60", "private, max-age=60"} {
		ok, reason := cache.Storable(r, 200, http.Header{"Cache-Control": {cc}})
		fmt.Printf("%-20s stored=%v reason=%q\n", cc, ok, reason)
	}
	// Output:
	// max-age=60           stored=false reason="authorization"
	// public, max-age=60   stored=true reason=""
	// private, max-age=60  stored=false reason="private"
}
