package shoptest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
)

// Soak bounds: whichever of soakRequests and soakDuration comes first ends
// the load.
const (
	soakWorkers  = 16
	soakRequests = 3000
	soakDuration = 10 * time.Second
	soakHeapRise = 20 << 20 // HeapInuse may end at most this far above its start
)

// soakVisitors are the client addresses the load presents through the
// trusted proxy 127.0.0.1 (documentation ranges only).
var soakVisitors = func() []string {
	var out []string
	for i := 1; i <= 24; i++ {
		out = append(out, "198.51.100."+strconv.Itoa(i), "203.0.113."+strconv.Itoa(i))
	}
	return out
}()

// soakTally is what the load generator saw, merged over its workers.
type soakTally struct {
	mu       sync.Mutex
	sent     int
	views    map[[2]string]bool // (visitor, slug) pairs answered 200
	limited  map[string]int     // visitor -> /api/limited requests sent
	allowed  map[string]int     // visitor -> /api/limited answered 200
	failures []string           // unexpected answers, first few
}

func (s *soakTally) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 10 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// soak runs the service under a bounded concurrent load (soakWorkers
// goroutines, soakRequests requests or soakDuration) mixing product reads
// and updates, rate-limited calls and article views from many visitors,
// then checks: every answer was the expected one, the view totals are
// exactly the distinct (visitor, article) pairs sent, the limiter let
// exactly Limit requests per visitor and window through, no limiter key
// lives without a TTL, nothing was reported as failing, and the heap is
// back near where it started. It must not run in parallel with other tests
// (the heap is the process's).
func soak(t *testing.T, build Build) {
	heapBefore := heapInuse()
	// A healthy Redis under -race and 16 workers on 2 cores can answer a
	// decision later than the limiter's 50 ms default; the soak checks
	// counting, not latency, so it gives the limiter a second.
	f := newFixtureConfig(t, build, func(c *shop.Config) { c.LimiterTimeout = time.Second })
	tally := &soakTally{views: map[[2]string]bool{}, limited: map[string]int{}, allowed: map[string]int{}}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for next.Add(1) <= soakRequests && time.Since(start) < soakDuration {
				f.soakOne(rng, tally)
			}
		})
	}
	wg.Wait()
	end := time.Now()
	t.Logf("soak: %d requests in %v", tally.sent, end.Sub(start).Round(time.Millisecond))
	for _, msg := range tally.failures {
		t.Error(msg)
	}

	f.checkSoakViews(tally)
	f.checkSoakLimits(tally, start, end)
	f.checkLimiterTTLs()
	if recs := f.logs.since(0); len(recs) > 0 {
		t.Errorf("failures reported under a healthy Redis: %d, first %v", len(recs), recs[0])
	}
	if err := f.shutdown(5 * time.Second); err != nil {
		t.Errorf("Close: %v", err)
	}
	f.checkTotalsAfterClose(tally)

	f = nil
	heapAfter := heapInuse()
	t.Logf("soak: HeapInuse %.1f MiB before, %.1f MiB after", float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20))
	if heapAfter > heapBefore+soakHeapRise {
		t.Errorf("HeapInuse after the soak: got %d bytes, want at most %d (start %d + %d)",
			heapAfter, heapBefore+soakHeapRise, heapBefore, soakHeapRise)
	}
}

// soakOne sends one request of a random kind and checks its answer.
func (f *fixture) soakOne(rng *rand.Rand, tally *soakTally) {
	ip := soakVisitors[rng.IntN(len(soakVisitors))]
	slugs := shop.ArticleSlugs()
	var method, path, body string
	var h http.Header
	switch k := rng.IntN(10); {
	case k < 4:
		method, path = http.MethodGet, "/products/"+[]string{"1", "2", "3", "404"}[rng.IntN(4)]
	case k < 5:
		id := strconv.Itoa(1 + rng.IntN(3))
		method, path = http.MethodPut, "/products/"+id
		body = fmt.Sprintf(`{"name":"Soak item %d","price_cents":%d}`, rng.IntN(1000), rng.IntN(10000))
	case k < 7:
		method, path, h = http.MethodGet, "/api/limited", visitor(ip)
	default:
		slug := slugs[rng.IntN(len(slugs))]
		if rng.IntN(20) == 0 {
			slug = "no-such-article"
		}
		method, path, h = http.MethodGet, "/articles/"+slug, visitor(ip)
	}
	res, _, err := f.request(method, path, body, h)
	tally.mu.Lock()
	tally.sent++
	tally.mu.Unlock()
	if err != nil {
		tally.fail("%s %s: %v", method, path, err)
		return
	}
	want := http.StatusOK
	switch {
	case path == "/products/404" || path == "/articles/no-such-article":
		want = http.StatusNotFound
	case path == "/api/limited":
		tally.mu.Lock()
		tally.limited[ip]++
		if res.status == http.StatusOK {
			tally.allowed[ip]++
		}
		tally.mu.Unlock()
		if res.status == http.StatusTooManyRequests {
			want = res.status
		}
	case strings.HasPrefix(path, "/articles/"):
		if res.status == http.StatusOK {
			tally.mu.Lock()
			tally.views[[2]string{ip, path[len("/articles/"):]}] = true
			tally.mu.Unlock()
		}
	}
	if res.status != want {
		tally.fail("%s %s: got status %d (%s), want %d", method, path, res.status, res.body, want)
	}
}

// expectedViews counts the distinct visitors of each article in tally.
func expectedViews(tally *soakTally) map[string]int64 {
	want := map[string]int64{}
	for _, slug := range shop.ArticleSlugs() {
		want[slug] = 0
	}
	for pair := range tally.views {
		want[pair[1]]++
	}
	return want
}

// checkSoakViews flushes the buffered views and compares the totals the
// service reports with the distinct (visitor, article) pairs sent: each
// visitor counts once per article inside the dedup window.
func (f *fixture) checkSoakViews(tally *soakTally) {
	f.t.Helper()
	if err := f.svc.Views.Flush(context.Background()); err != nil {
		f.t.Fatalf("flush: %v", err)
	}
	for slug, want := range expectedViews(tally) {
		var v articleViews
		decode(f.t, f.get("/articles/"+slug+"/views", nil), &v)
		if v.Total != want || v.Today != want {
			f.t.Errorf("views of %s after the soak: got total %d, today %d; want %d (distinct visitors sent)", slug, v.Total, v.Today, want)
		}
		if d := v.Unique - want; d < -2 || d > 2 { // HyperLogLog: an estimate
			f.t.Errorf("unique visitors of %s: got %d, want %d ± 2", slug, v.Unique, want)
		}
	}
}

// checkTotalsAfterClose reads the totals straight from Redis after Close:
// its final flush must not have applied anything twice.
func (f *fixture) checkTotalsAfterClose(tally *soakTally) {
	f.t.Helper()
	for slug, want := range expectedViews(tally) {
		key := core.MakeKey(namespace, "views", "{"+slug+"}", "total")
		got, err := f.raw.Get(context.Background(), key).Int64()
		if err != nil && want != 0 {
			f.t.Errorf("GET %s: %v", key, err)
		}
		if got != want {
			f.t.Errorf("%s after Close: got %d, want %d", key, got, want)
		}
	}
}

// checkSoakLimits checks that each visitor got exactly min(sent, Limit)
// requests through in one window, and never more than Limit per window
// when the run crossed a window boundary.
func (f *fixture) checkSoakLimits(tally *soakTally, start, end time.Time) {
	f.t.Helper()
	window := f.cfg.RateWindow
	windows := int(end.UnixNano()/int64(window)-start.UnixNano()/int64(window)) + 1
	if len(tally.limited) == 0 {
		f.t.Fatal("the soak sent no /api/limited request")
	}
	for ip, sent := range tally.limited {
		got := tally.allowed[ip]
		switch {
		case windows == 1 && got != min(sent, f.cfg.RateLimit):
			f.t.Errorf("visitor %s: %d of %d requests allowed, want %d", ip, got, sent, min(sent, f.cfg.RateLimit))
		case got > windows*f.cfg.RateLimit:
			f.t.Errorf("visitor %s: %d requests allowed over %d windows, want at most %d", ip, got, windows, windows*f.cfg.RateLimit)
		}
	}
}

// checkLimiterTTLs scans the limiter's keys: there must be some, and none
// may live without a TTL.
func (f *fixture) checkLimiterTTLs() {
	f.t.Helper()
	ctx := context.Background()
	iter := f.raw.Scan(ctx, 0, core.MakeKey(namespace, "ratelimit", "*"), 100).Iterator()
	n := 0
	for iter.Next(ctx) {
		n++
		ttl, err := f.raw.PTTL(ctx, iter.Val()).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		if ttl == -1 { // -2: expired meanwhile, fine
			f.t.Errorf("limiter key %s has no TTL", iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		f.t.Fatal(err)
	}
	if n == 0 {
		f.t.Error("no limiter key found after the soak: the scan pattern is wrong or nothing was counted")
	}
}

// heapInuse returns HeapInuse after two garbage collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
