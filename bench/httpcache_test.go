package bench

// httpcache benchmarks (issue 5): the cost of a cache hit through the
// net/http middleware against the floor it cannot beat, a raw go-redis GET
// of the same stored entry plus writing it to an httptest.ResponseRecorder.
// Sibling sub-benchmarks impl=raw-get (the baseline), impl=httpcache and
// impl=httpcache-local (with the in-process tier, Options.Local: no Redis
// round trip), so `benchstat -col /impl` gives the ratios. A hit never calls
// the handler: the benchmark fails if it does.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// BenchmarkHTTPCacheHit serves one stored response (a few header fields and
// a body of the given size) per op. Goal: httpcache ≤ 1.2x raw-get.
func BenchmarkHTTPCacheHit(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, par := range []bool{false, true} {
			name := "body=" + map[int]string{1 << 10: "1KiB", 16 << 10: "16KiB"}[size] + "/par=" + map[bool]string{false: "1", true: "GOMAXPROCS"}[par]
			b.Run(name, func(b *testing.B) { benchHit(b, size, par) })
		}
	}
}

func benchHit(b *testing.B, size int, par bool) {
	rdb := redistest.Standalone(b)
	ns := redistest.Prefix(b)
	c, err := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", size)
	var calls atomic.Int64
	h := nethttp.HTTPCache(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		_, _ = w.Write([]byte(body))
	}))
	req := httptest.NewRequest("GET", "http://example.com/page?id=42", nil)
	h.ServeHTTP(httptest.NewRecorder(), req) // store it
	gen, err := rdb.Get(context.Background(), ns+":gen").Result()
	if err != nil {
		b.Fatalf("generation of %s: got %v, want a number", ns, err)
	}
	key := ns + ":g" + gen + ":{http://example.com/page?id=42}"
	if n, _ := rdb.Exists(context.Background(), key).Result(); n != 1 {
		b.Fatalf("stored entry %s: got none, want it", key)
	}
	calls.Store(0)
	b.Run("impl=raw-get", func(b *testing.B) {
		ctx := context.Background()
		httpcacheRun(b, par, func() {
			s, err := rdb.Get(ctx, key).Result()
			if err != nil {
				b.Fatal(err)
			}
			w := httptest.NewRecorder()
			_, _ = w.WriteString(s)
		})
	})
	hit := func(b *testing.B, h http.Handler) {
		httpcacheRun(b, par, func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || w.Body.Len() != size {
				b.Fatalf("hit: got %d with %d bytes", w.Code, w.Body.Len())
			}
		})
		if n := calls.Load(); n != 0 {
			b.Fatalf("handler calls during hits: got %d, want 0", n)
		}
	}
	b.Run("impl=httpcache", func(b *testing.B) { hit(b, h) })
	lc, err := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{Namespace: ns, Local: httpcache.LocalOptions{MaxBytes: 1 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	defer lc.Close()
	lh := nethttp.HTTPCache(lc)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	redistest.Eventually(b, 5*time.Second, "the in-process tier answering", func() bool {
		lh.ServeHTTP(httptest.NewRecorder(), req)
		return lc.Stats().LocalHits > 0
	})
	b.Run("impl=httpcache-local", func(b *testing.B) { hit(b, lh) })
}

func httpcacheRun(b *testing.B, par bool, op func()) {
	b.ReportAllocs()
	if !par {
		for b.Loop() {
			op()
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}
