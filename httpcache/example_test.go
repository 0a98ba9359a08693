package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"

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

// A reverse proxy tells the cache when it could not reach the origin, so a
// stale stored response can answer instead of its 502.
func ExampleOriginUnreachable() {
	rdb, done := redistest.ExampleClient()
	defer done()
	cache, _ := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{})

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0") // stale at once: every request revalidates
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	target, _ := url.Parse(origin.URL)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			httpcache.OriginUnreachable(w) // before writing the error response
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cache.Serve(w, r, proxy) })

	for _, up := range []bool{true, false} {
		if !up {
			origin.Close() // connections refused from now on
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/page", nil))
		full := w.Header().Get("Cache-Status")
		cs, _, _ := strings.Cut(full, "; ttl=") // the ttl is 0 or -1 (Date has whole seconds)
		_, detail, _ := strings.Cut(full, "detail=")
		fmt.Printf("%d %s | %s | detail %q\n", w.Code, w.Body.String(), cs, detail)
	}
	// Output:
	// 200 from the origin | rediskit; fwd=miss; fwd-status=200 | detail ""
	// 200 from the origin | rediskit; fwd=stale; fwd-status=502 | detail "origin-unreachable"
}

// Range requests are answered from a stored complete response.
func ExampleCache_Serve_ranges() {
	rdb, done := redistest.ExampleClient()
	defer done()
	cache, _ := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{})
	file := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "0123456789")
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cache.Serve(w, r, file) })
	for _, rng := range []string{"", "bytes=2-4", "bytes=-3", "bytes=10-"} {
		r := httptest.NewRequest("GET", "http://example.com/file", nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-10s %d %q %s", rng, w.Code, w.Body.String(), w.Header().Get("Content-Range"))))
	}
	// Output:
	// 200 "0123456789"
	// bytes=2-4  206 "234" bytes 2-4/10
	// bytes=-3   206 "789" bytes 7-9/10
	// bytes=10-  416 "" bytes */10
}
