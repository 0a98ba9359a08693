package httpcache_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// discardWriter is a ResponseWriter that allocates nothing once its header
// map has grown: the allocations counted are the cache's (and go-redis').
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// A hit allocates at most this much per request (a 1 KiB body, four stored
// header fields): from Redis, a GET (go-redis: about 8, 3 of them its
// connection check), the call's deadline context (1, call.Start), the
// entry and the header values decoded straight into the response (1 when
// they fit the entry's room, else 2), the computed header fields (1); from
// the in-process tier, the header values copied from the shared entry and
// the computed fields. Both count the request budget and the key (with the
// entry key, 1). bench/httpcache_test.go BenchmarkHTTPCacheHit measures
// the same with an httptest.ResponseRecorder (which adds about 7).
func TestHitAllocs(t *testing.T) {
	if redistest.Race {
		t.Skip("allocation counts differ under the race detector")
	}
	cases := []struct {
		name  string
		local bool
		max   float64
	}{
		{"redis", false, 13},
		{"in-process tier", true, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := redistest.Case{Target: redistest.StandaloneTarget(t), Prefix: redistest.Prefix(t)}
			var lo httpcache.LocalOptions
			if tc.local {
				lo.MaxBytes = 1 << 20
			}
			c := localCaches(t, rc, 1, lo)[0]
			body := strings.Repeat("x", 1<<10)
			calls := 0
			h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				w.Header().Set("Cache-Control", "public, max-age=3600")
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("ETag", `"v1"`)
				_, _ = w.Write([]byte(body))
			}))
			// A context that can be cancelled, as net/http's requests have.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/page?id=42", nil)
			h.ServeHTTP(httptest.NewRecorder(), req) // store it
			if tc.local {
				poll(t, "the in-process tier answering", func() bool {
					h.ServeHTTP(httptest.NewRecorder(), req)
					return c.Stats().LocalHits > 0
				})
			}
			w := &discardWriter{h: http.Header{}}
			// The best of 3 runs counts: the timers of call.Detached's shared
			// deadline channels (one per millisecond in which some call's
			// deadline falls) land on a varying share of the requests.
			got := float64(1 << 20)
			for range 3 {
				got = min(got, testing.AllocsPerRun(200, func() {
					clear(w.h)
					w.n = 0
					h.ServeHTTP(w, req)
				}))
			}
			if w.status != 200 || w.n != len(body) || calls != 1 {
				t.Fatalf("hit: got status %d, %d bytes, %d handler calls; want 200, %d, 1", w.status, w.n, calls, len(body))
			}
			if got > tc.max {
				t.Errorf("allocations per hit: got %.0f, want at most %.0f", got, tc.max)
			}
			t.Logf("allocations per hit: %.0f", got)
		})
	}
}
