package httpcache_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
)

// Serve attaches the client's request budget: the handler sees it in its
// context, and with Redis not answering a request waits on Redis at most
// the budget, however long Timeout is. OnError learns the request.
func TestRequestBudget(t *testing.T) {
	t.Parallel()
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	const short, timeout = 200 * time.Millisecond, 10 * time.Second
	var withRequest, errs atomic.Int64
	c, err := httpcache.New(core.NewFromRedis(rdb).WithRequestBudget(short), httpcache.Options{
		Namespace: redistest.Prefix(t), Timeout: timeout,
		OnError: func(ctx context.Context, err error) {
			errs.Add(1)
			if r := core.RequestFromContext(ctx); r != nil && r.URL.Path == "/b" {
				withRequest.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var budgeted atomic.Int64
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b := budget.From(r.Context()); b != nil && b.Left() <= short {
			budgeted.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("from handler"))
	}))
	if w := do(h, "GET", "http://example.com/a"); !strings.Contains(w.Header().Get("Cache-Status"), "stored") {
		t.Fatalf("first request: got Cache-Status %q, want stored", w.Header().Get("Cache-Status"))
	}
	if budgeted.Load() != 1 {
		t.Fatalf("handler's context: got %d requests with the budget, want 1", budgeted.Load())
	}
	p.Blackhole()
	start := time.Now()
	w := do(h, "GET", "http://example.com/b")
	if took := time.Since(start); took > timeout/4 || w.Body.String() != "from handler" ||
		!strings.Contains(w.Header().Get("Cache-Status"), "detail=redis-error") {
		t.Errorf("Redis blackholed: got %q, Cache-Status %q after %v, want the handler's answer, redis-error, well within Timeout %v",
			w.Body.String(), w.Header().Get("Cache-Status"), took, timeout)
	}
	if errs.Load() != 1 || withRequest.Load() != 1 {
		t.Errorf("OnError: got %d errors, %d with the request, want 1 and 1", errs.Load(), withRequest.Load())
	}
	p.Restore()
}

// A stale-while-revalidate revalidation outlives the request: it stores
// its response even when the handler takes longer than the request budget.
func TestBackgroundRevalidationOutlivesBudget(t *testing.T) {
	t.Parallel()
	const short = 50 * time.Millisecond
	rdb := redistest.Standalone(t)
	c, err := httpcache.New(core.NewFromRedis(rdb).WithRequestBudget(short), httpcache.Options{Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			time.Sleep(3 * short) // a slow origin: the revalidation ends after the budget
		}
		w.Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
		_, _ = w.Write([]byte("v"))
	}))
	do(h, "GET", "http://example.com/swr")
	if cs := do(h, "GET", "http://example.com/swr").Header().Get("Cache-Status"); !strings.Contains(cs, "stale-while-revalidate") {
		t.Fatalf("second request: got Cache-Status %q, want stale-while-revalidate", cs)
	}
	poll(t, "the background revalidation to store", func() bool { return c.Stats().Stored == 2 })
	if s := c.Stats(); s.Errors != 0 {
		t.Errorf("errors: got %d, want 0", s.Errors)
	}
}

// Without OnError, failures are logged: a rate-limited slog warning naming
// the feature and the request's method.
func TestDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t) // not parallel: captures slog.Default
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true})
	prefix := redistest.Prefix(t)
	c, err := httpcache.New(coreClient(rdb), httpcache.Options{Namespace: prefix})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for range 3 {
		do(cached(c, &origin{clk: newClock()}), "GET", "http://example.com/x")
	}
	var mine []string // records of this cache: its first failure reads the generation key
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "httpcache: redis failure") && strings.Contains(line, prefix+":gen") {
			mine = append(mine, line)
		}
	}
	if len(mine) != 1 || !strings.Contains(mine[0], "method=GET") || !strings.Contains(mine[0], "level=WARN") {
		t.Errorf("log: got %q, want one rate-limited httpcache warning with method=GET", mine)
	}
	if n := c.Stats().Errors; n < 3 {
		t.Errorf("Stats.Errors: got %d, want at least 3", n)
	}
}
