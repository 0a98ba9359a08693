package shoptest

// Fault scenarios: the whole example service (memo, rate limiter, response
// cache and buffered view counts together) on a dedicated redis-server
// behind a fault-injecting proxy, driven over HTTP. Each service's test
// calls Faults with its own router, so both adapters keep the same failure
// contract.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Faults runs every fault scenario on the service build routes. blackhole
// and soak run first, one at a time: they compare the process's goroutines
// and heap with those at their start, so the test calling Faults must not
// run in parallel with other tests. The other scenarios then run in
// parallel, each on its own redis-server (the failovers on their own
// Sentinel deployment and Redis Cluster).
func Faults(t *testing.T, build Build) {
	t.Run("blackhole", func(t *testing.T) { blackhole(t, build) })
	t.Run("soak", func(t *testing.T) { soak(t, build) })
	t.Run("redis down", func(t *testing.T) { redisDown(t, build) })
	t.Run("latency", func(t *testing.T) { latency(t, build) })
	t.Run("recovery", func(t *testing.T) { recovery(t, build) })
	t.Run("max memory", func(t *testing.T) { maxMemory(t, build) })
	t.Run("sentinel failover", func(t *testing.T) { sentinelFailover(t, build) })
	t.Run("cluster failover", func(t *testing.T) { clusterFailover(t, build) })
}

// redisDown stops Redis mid-traffic, by cutting every connection at the
// proxy ("cut") or by killing redis-server ("stop", which loses its data),
// and checks each feature's failure policy: product GETs answer 200 from
// the origin (memo and the response cache fail open), /api/limited lets
// requests through (the limiter fails open: shop's default, and the only
// policy shop.Config offers), articles answer 200 with their views buffered,
// every feature reports the failure, and once Redis is back the view totals
// are exact: nothing lost, nothing counted twice.
func redisDown(t *testing.T, build Build) {
	cases := []struct {
		name          string
		fail, restore func(*fixture)
		keepsData     bool
	}{
		{"cut", func(f *fixture) { f.proxy.Cut() }, func(f *fixture) { f.proxy.Restore() }, true},
		{"stop", func(f *fixture) { f.server.Stop() }, func(f *fixture) { f.server.Restart() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, build)
			expectProduct(t, f.get("/products/1", nil), "1")
			if res := f.get("/products/1", nil); !isHit(res) {
				t.Fatalf("warm-up: Cache-Status %q, want a hit", res.header.Get("Cache-Status"))
			}
			expectStatus(t, f.get("/articles/hello-redis", visitor("203.0.113.1")), http.StatusOK)
			f.waitViews("hello-redis", 1)

			mark := f.logs.mark()
			tc.fail(f)
			whileDown(t, f)
			recs := f.logs.since(mark)
			expectReported(t, recs, func(error) bool { return true }, "memo", "httpcache", "ratelimit")
			expectNoHandlerErrors(t, recs, "article views") // the 503 whileDown asks for
			f.expectFlushFailureReported(mark)
			if n := count(f.logs.since(mark), func(r logRecord) bool { return r.msg == "view counts dropped" }); n > 0 {
				t.Errorf("views dropped while Redis was down: %d reports, want none (buffered)", n)
			}

			tc.restore(f)
			before := int64(0)
			if tc.keepsData {
				before = 1
			}
			f.waitViews("hello-redis", before+2)
			f.waitViews("rate-limits", 1)
		})
	}
}

// whileDown sends traffic to a service whose Redis is unreachable.
func whileDown(t *testing.T, f *fixture) {
	t.Helper()
	for _, id := range []string{"1", "2", "1"} {
		expectProduct(t, f.get("/products/"+id, nil), id)
	}
	expectStatus(t, f.get("/products/404", nil), http.StatusNotFound)
	for i := 1; i <= RateLimit+2; i++ { // past the limit: nothing is counted
		res := f.get("/api/limited", visitor("198.51.100.7"))
		expectStatus(t, res, http.StatusOK)
		if h := res.header.Get("RateLimit"); h != "" {
			t.Errorf("request %d with the limiter down: RateLimit %q, want none (no decision)", i, h)
		}
	}
	for _, v := range []struct{ slug, ip string }{
		{"hello-redis", "203.0.113.2"}, {"hello-redis", "203.0.113.3"},
		{"rate-limits", "203.0.113.2"}, {"hello-redis", "203.0.113.2"}, // a reload: not counted again
	} {
		expectStatus(t, f.get("/articles/"+v.slug, visitor(v.ip)), http.StatusOK)
	}
	expectStatus(t, f.get("/articles/hello-redis/views", nil), http.StatusServiceUnavailable)
}

// expectFlushFailureReported waits (a bounded poll over many flush
// intervals) for the buffered view counter to report a failed flush.
func (f *fixture) expectFlushFailureReported(mark int) {
	f.t.Helper()
	deadline := time.Now().Add(50 * f.cfg.FlushInterval)
	for count(f.logs.since(mark), func(r logRecord) bool {
		return featureOf(r) == "viewcount" && r.err != nil && r.msg != "view counts dropped"
	}) == 0 {
		if time.Now().After(deadline) {
			f.t.Errorf("viewcount: no failed flush reported within %v while Redis was down, want the failure "+
				"logged (records: %v)", 50*f.cfg.FlushInterval, f.logs.since(mark))
			return
		}
		time.Sleep(f.cfg.FlushInterval)
	}
}

// latency adds 500 ms to every packet between the service and Redis: each
// request still answers within requestBound, each Redis failure reaches
// the log classified as a timeout, and each failing request is reported
// once per feature, not once per retry.
func latency(t *testing.T, build Build) {
	t.Parallel()
	f := newFixture(t, build)
	base := f.get("/products/1", nil)
	expectProduct(t, base, "1")
	expectStatus(t, f.get("/api/limited", visitor("198.51.100.8")), http.StatusOK)

	f.proxy.Delay(500 * time.Millisecond)
	mark := f.logs.mark()
	const n = 3
	for range n {
		res := f.get("/products/1", nil)
		expectStatus(t, res, http.StatusOK)
		if res.body != base.body {
			t.Errorf("slow Redis: body %q, want %q", res.body, base.body)
		}
		expectStatus(t, f.get("/api/limited", visitor("198.51.100.8")), http.StatusOK)
	}
	expectStatus(t, f.get("/articles/cache-control", visitor("203.0.113.9")), http.StatusOK)
	f.proxy.Restore()

	recs := f.logs.since(mark)
	expectNoHandlerErrors(t, recs)
	for _, r := range recs {
		if r.err != nil && !isTimeout(r.err) {
			t.Errorf("%v: not classified as a timeout (errors.Is context.DeadlineExceeded, "+
				"os.ErrDeadlineExceeded or ratelimit.ErrTimeout, or a net timeout)", r)
		}
	}
	perRequest := []struct {
		what  string
		match func(logRecord) bool
	}{
		{"memo entry reads", func(r logRecord) bool { return r.msg == "memo" && strings.Contains(r.err.Error(), "memo: get ") }},
		{"httpcache lookups", func(r logRecord) bool {
			return r.msg == "httpcache" && strings.Contains(r.err.Error(), "httpcache: lookup ")
		}},
		{"limiter decisions", func(r logRecord) bool { return featureOf(r) == "ratelimit" }},
	}
	for _, p := range perRequest {
		if got := count(recs, func(r logRecord) bool { return r.err != nil && p.match(r) }); got != n {
			t.Errorf("%s: got %d failures reported for %d failing requests, want exactly %d", p.what, got, n, n)
		}
	}
}

// recovery checks that the first request after Redis comes back uses it: a
// cached product is a hit again and the limiter decides and counts again.
func recovery(t *testing.T, build Build) {
	t.Parallel()
	f := newFixture(t, build)
	expectProduct(t, f.get("/products/3", nil), "3")
	if res := f.get("/products/3", nil); !isHit(res) {
		t.Fatalf("warm-up: Cache-Status %q, want a hit", res.header.Get("Cache-Status"))
	}
	who := visitor("198.51.100.20")

	f.proxy.Cut()
	res := f.get("/products/3", nil)
	expectProduct(t, res, "3")
	if isHit(res) {
		t.Errorf("Redis cut: Cache-Status %q, want no hit", res.header.Get("Cache-Status"))
	}
	for range RateLimit + 1 {
		expectStatus(t, f.get("/api/limited", who), http.StatusOK)
	}

	f.proxy.Restore()
	res = f.get("/products/3", nil)
	expectProduct(t, res, "3")
	if !isHit(res) {
		t.Errorf("first GET after restore: Cache-Status %q, want a hit", res.header.Get("Cache-Status"))
	}
	expectCountsAgain(t, f, who)
}

// expectCountsAgain checks that the limiter decides the very next request
// of who and counts each one until it denies with 429. Where the count
// starts is not checked: a request let through while Redis was down may
// still be applied when it comes back (ratelimit documents that a
// timed-out command may run later).
func expectCountsAgain(t *testing.T, f *fixture, who http.Header) {
	t.Helper()
	prev := RateLimit
	for i := 1; i <= RateLimit+1; i++ {
		res := f.get("/api/limited", who)
		var left int
		_, err := fmt.Sscanf(res.header.Get("RateLimit"), `"default";r=%d;`, &left)
		if i == 1 && err == nil {
			prev = left + 1 // where counting resumes is not checked
		}
		switch {
		case err != nil:
			t.Fatalf("request %d after restore: status %d, RateLimit %q, want a decision", i, res.status, res.header.Get("RateLimit"))
		case res.status == http.StatusTooManyRequests:
			if prev != 0 || left != 0 {
				t.Errorf("request %d after restore: 429 with r=%d after r=%d, want it right after r=0", i, left, prev)
			}
			return
		case res.status != http.StatusOK || left != prev-1:
			t.Fatalf("request %d after restore: status %d, r=%d after r=%d, want 200 and r=%d", i, res.status, left, prev, prev-1)
		}
		prev = left
	}
	t.Errorf("no 429 after %d requests following the restore", RateLimit+1)
}

// blackhole makes Redis swallow every packet: each request, run
// concurrently, still completes within requestBound with the answer it
// would have without Redis; then, after the server and the service are
// closed (Close's ctx gives up on the views it cannot flush), no goroutine
// is left behind. It must not run in parallel with other tests: it compares
// the binary's goroutines with those at its start.
func blackhole(t *testing.T, build Build) {
	ignore := goleak.IgnoreCurrent()
	f := newFixture(t, build)
	expectProduct(t, f.get("/products/1", nil), "1")
	expectStatus(t, f.get("/api/limited", visitor("198.51.100.30")), http.StatusOK)
	expectStatus(t, f.get("/articles/hello-redis", visitor("203.0.113.30")), http.StatusOK)
	f.waitViews("hello-redis", 1)

	f.proxy.Blackhole()
	reqs := []struct {
		method, path, body string
		h                  http.Header
		want               int // 0: any status, only the time bound applies
	}{
		{"GET", "/products/1", "", nil, http.StatusOK},
		{"GET", "/products/2", "", nil, http.StatusOK},
		{"GET", "/products/404", "", nil, http.StatusNotFound},
		{"PUT", "/products/3", `{"name":"Burr grinder","price_cents":8900}`, nil, 0},
		{"GET", "/api/limited", "", visitor("198.51.100.30"), http.StatusOK},
		{"GET", "/api/limited", "", visitor("198.51.100.31"), http.StatusOK},
		{"GET", "/articles/hello-redis", "", visitor("203.0.113.31"), http.StatusOK},
		{"GET", "/articles/rate-limits", "", visitor("203.0.113.31"), http.StatusOK},
		{"GET", "/healthz", "", nil, http.StatusOK},
	}
	var wg sync.WaitGroup
	var slowestMu sync.Mutex
	var slowest time.Duration
	for range 2 { // twice, concurrently: shared loads and batches too
		for _, rq := range reqs {
			wg.Go(func() {
				res, d, err := f.request(rq.method, rq.path, rq.body, rq.h)
				slowestMu.Lock()
				slowest = max(slowest, d)
				slowestMu.Unlock()
				switch {
				case err != nil:
					t.Errorf("%s %s: %v", rq.method, rq.path, err)
				case d > requestBound:
					t.Errorf("%s %s took %v, want at most %v", rq.method, rq.path, d.Round(time.Millisecond), requestBound)
				case rq.want != 0 && res.status != rq.want:
					t.Errorf("%s %s: got status %d (%s), want %d", rq.method, rq.path, res.status, strings.TrimSpace(res.body), rq.want)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("slowest request while black-holed: %v (bound %v)", slowest.Round(time.Millisecond), requestBound)

	// Views buffered during the black hole cannot be flushed: Close gives
	// up when its ctx ends and reports them dropped.
	const closeTimeout = 300 * time.Millisecond
	start := time.Now()
	err := f.shutdown(closeTimeout)
	took := time.Since(start)
	t.Logf("Close while black-holed: %v after %v", err, took.Round(time.Millisecond))
	if took > closeTimeout+time.Second {
		t.Errorf("closing the server and the service with a %v ctx took %v, want at most %v",
			closeTimeout, took.Round(time.Millisecond), closeTimeout+time.Second)
	}
	f.proxy.Close()
	_ = f.raw.Close() // its t.Cleanup would come after the check
	f.server.Stop()
	expectNoLeak(t, ignore)
}

// expectNoLeak waits (bounded) for the goroutines started since ignore was
// taken to end, then reports the ones left. The wait covers work that
// outlives a request by design but is bounded: the limiter's batch round
// trip (at most 1 s) and detached memo and cache writes (250 ms each).
func expectNoLeak(t *testing.T, ignore goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	goleak.VerifyNone(t, ignore)
}

// maxMemory fills a noeviction redis-server to its maxmemory so that every
// write fails with OOM, while reads still work: product responses
// (status, body, content type) are exactly those of a healthy Redis, the
// limiter fails open, the failed writes are reported, and views buffered
// meanwhile are all counted once memory is freed.
func maxMemory(t *testing.T, build Build) {
	t.Parallel()
	f := newFixture(t, build, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	paths := []string{"/products/1", "/products/2", "/products/3", "/products/404"}
	normal := map[string]response{}
	for _, p := range paths {
		normal[p] = f.get(p, nil)
	}
	f.forgetStored()
	f.fillMemory()

	mark := f.logs.mark()
	for range 2 {
		for _, p := range paths {
			res, want := f.get(p, nil), normal[p]
			if res.status != want.status || res.body != want.body || res.header.Get("Content-Type") != want.header.Get("Content-Type") {
				t.Errorf("GET %s with Redis full: got %d %q (%s), want %d %q (%s)", p, res.status, res.body,
					res.header.Get("Content-Type"), want.status, want.body, want.header.Get("Content-Type"))
			}
		}
	}
	for range RateLimit + 2 {
		expectStatus(t, f.get("/api/limited", visitor("198.51.100.40")), http.StatusOK)
	}
	for _, ip := range []string{"203.0.113.40", "203.0.113.41", "203.0.113.42"} {
		expectStatus(t, f.get("/articles/cache-control", visitor(ip)), http.StatusOK)
	}
	oom := func(err error) bool { return strings.Contains(err.Error(), "OOM") }
	expectReported(t, f.logs.since(mark), oom, "memo", "httpcache")
	expectNoHandlerErrors(t, f.logs.since(mark))

	if err := f.raw.Unlink(context.Background(), "filler").Err(); err != nil {
		t.Fatal(err)
	}
	f.waitViews("cache-control", 3)
}
