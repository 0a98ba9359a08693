package shoptest

// The failover scenario: the whole service on a Sentinel deployment or a
// Redis Cluster with replicas whose master is SIGKILLed under steady load.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// Timeline of the failover scenario: the load runs failoverKillAfter before
// the master is killed and failoverTail past the deployment's recovery,
// at most failoverMaxLoad in all.
const (
	failoverKillAfter = time.Second
	failoverTail      = 2 * time.Second
	failoverMaxLoad   = 8 * time.Second
	failoverHitsAfter = time.Second // product GETs started this long after recovery must be cache hits
)

// productSample is one product GET of the failover load.
type productSample struct {
	start, end time.Time
	hit        bool
}

// sentinelFailover is the failover scenario on a Sentinel deployment.
func sentinelFailover(t *testing.T, build Build) {
	t.Parallel()
	failover(t, build, redistest.FailoverSentinel(t))
}

// clusterFailover is the failover scenario on a Redis Cluster.
func clusterFailover(t *testing.T, build Build) {
	t.Parallel()
	failover(t, build, redistest.FailoverCluster(t))
}

// failover runs the service on topo under steady load from a few
// goroutines, SIGKILLs a master after failoverKillAfter, waits for its
// replica to take over, and keeps the load failoverTail more. Every product
// GET answers 200 with the product (memo and the response cache fail
// open), /api/limited answers 200 or 429, articles 200: no 5xx anywhere.
// Product GETs started failoverHitsAfter after the deployment is healthy
// again are cache hits. After Close (which flushes the buffered views) the
// view total read through a fresh client is at most the number of article
// views served (every visitor distinct, so each counts once): never counted
// twice. Views lost with the master are logged, not asserted: shop's
// Counter does not set WaitReplicas, so a flush the master acknowledged but
// had not replicated is gone.
func failover(t *testing.T, build Build, topo redistest.Failover) {
	f := &fixture{t: t, logs: &logRecorder{}}
	f.serve(build, topo.Config, nil)

	base := f.get("/products/1", nil)
	expectProduct(t, base, "1")
	if res := f.get("/products/1", nil); !isHit(res) {
		t.Fatalf("warm-up: Cache-Status %q, want a hit", res.header.Get("Cache-Status"))
	}

	var (
		stop                                atomic.Bool
		wg                                  sync.WaitGroup
		mu                                  sync.Mutex
		samples                             []productSample
		slowest                             = map[string]time.Duration{}
		productFails, serverErrs            atomic.Int64
		limitedOK, limited429, articlesOK   atomic.Int64
		articleGETs, limitedGETs, visitorID atomic.Int64
	)
	// get sends one GET and fails the test on a transport error or a 5xx.
	get := func(route, path string, h http.Header) (response, bool) {
		start := time.Now()
		res, d, err := f.request(http.MethodGet, path, "", h)
		mu.Lock()
		slowest[route] = max(slowest[route], d)
		mu.Unlock()
		switch {
		case err != nil:
			t.Errorf("GET %s at %v: %v", path, start.Format("15:04:05.000"), err)
			return res, false
		case res.status >= 500:
			serverErrs.Add(1)
			t.Errorf("GET %s at %v: %d (%s), want no 5xx", path, start.Format("15:04:05.000"), res.status, strings.TrimSpace(res.body))
			return res, false
		}
		return res, true
	}
	loop := func(body func()) {
		wg.Go(func() {
			for !stop.Load() {
				body()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	for range 2 {
		loop(func() {
			start := time.Now()
			res, ok := get("products", "/products/1", nil)
			end := time.Now()
			if ok && (res.status != http.StatusOK || res.body != base.body) {
				ok = false
				t.Errorf("GET /products/1 at %v: %d %q, want 200 %q", start.Format("15:04:05.000"), res.status, res.body, base.body)
			}
			if !ok {
				productFails.Add(1)
				return
			}
			mu.Lock()
			samples = append(samples, productSample{start, end, isHit(res)})
			mu.Unlock()
		})
	}
	limitedBy := visitor("198.51.100.60")
	loop(func() {
		limitedGETs.Add(1)
		res, ok := get("limited", "/api/limited", limitedBy)
		switch {
		case !ok:
		case res.status == http.StatusOK:
			limitedOK.Add(1)
		case res.status == http.StatusTooManyRequests:
			limited429.Add(1)
		default:
			t.Errorf("GET /api/limited: %d, want 200 or 429", res.status)
		}
	})
	for range 2 {
		loop(func() {
			n := visitorID.Add(1) // a distinct visitor each time: each view counts
			ip := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
			articleGETs.Add(1)
			res, ok := get("articles", "/articles/hello-redis", visitor(ip))
			switch {
			case !ok:
			case res.status == http.StatusOK:
				articlesOK.Add(1)
			default:
				t.Errorf("GET /articles/hello-redis: %d, want 200", res.status)
			}
		})
	}
	loadStart := time.Now()
	stopLoad := sync.OnceFunc(func() { stop.Store(true); wg.Wait() })
	defer stopLoad() // on a Fatal below

	time.Sleep(failoverKillAfter)
	mark := f.logs.mark()
	// On a cluster, kill the master serving the generation key of the
	// product memo, which every product load reads.
	key := core.MakeKey(namespace, "memo", "product", "gen")
	old, promoted, killedAt, healthyAt := topo.Kill(key)
	what := fmt.Sprintf("%s: master %s killed (slot %d of %s); %s took over", topo.Name, old, core.Slot(key), key, promoted)
	t.Logf("%s, deployment healthy %v after the kill", what, healthyAt.Sub(killedAt).Round(time.Millisecond))
	stopAt := healthyAt.Add(failoverTail)
	if limit := loadStart.Add(failoverMaxLoad); stopAt.After(limit) {
		stopAt = limit
	}
	time.Sleep(time.Until(stopAt))
	stopLoad()
	loadTime := time.Since(loadStart)

	// Products: hits again once the deployment has recovered.
	slices.SortFunc(samples, func(a, b productSample) int { return a.start.Compare(b.start) })
	hitsFrom := healthyAt.Add(failoverHitsAfter)
	var misses, late, checked int
	var lastMiss time.Time
	for _, sm := range samples {
		if sm.hit {
			if !sm.start.Before(hitsFrom) {
				checked++
			}
			continue
		}
		misses++
		lastMiss = sm.end
		if !sm.start.Before(hitsFrom) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d product GETs started %v or more after the deployment was healthy were not cache hits", late, failoverHitsAfter)
	}
	if checked == 0 {
		t.Errorf("no product GET started %v after the deployment was healthy (load ran %v): hits not checked",
			failoverHitsAfter, loadTime.Round(time.Millisecond))
	}
	if lastMiss.IsZero() {
		t.Logf("products: %d GETs, all cache hits (none missed through the failover)", len(samples))
	} else {
		t.Logf("products: %d GETs, %d misses; hits again for good %v after the kill (%v after healthy); %d hits checked from healthy+%v",
			len(samples), misses, lastMiss.Sub(killedAt).Round(time.Millisecond),
			lastMiss.Sub(healthyAt).Round(time.Millisecond), checked, failoverHitsAfter)
	}
	t.Logf("load %v: product failures %d, 5xx %d; /api/limited %d GETs: %d × 200, %d × 429; articles %d GETs, %d × 200",
		loadTime.Round(time.Millisecond), productFails.Load(), serverErrs.Load(), limitedGETs.Load(),
		limitedOK.Load(), limited429.Load(), articleGETs.Load(), articlesOK.Load())
	mu.Lock()
	t.Logf("slowest GET: products %v, /api/limited %v, articles %v",
		slowest["products"].Round(time.Millisecond), slowest["limited"].Round(time.Millisecond),
		slowest["articles"].Round(time.Millisecond))
	mu.Unlock()
	recs := f.logs.since(mark)
	reported := map[string]int{}
	for _, r := range recs {
		if r.err != nil {
			reported[featureOf(r)]++
		}
	}
	t.Logf("failures reported from the kill on: %v (\"\": handlers)", reported)
	if productFails.Load() > 0 {
		t.Errorf("%d product GETs failed, want none", productFails.Load())
	}

	// Views: Close flushes the buffer; a fresh client reads the total.
	if err := f.shutdown(5 * time.Second); err != nil {
		t.Errorf("closing the service: %v", err)
	}
	dropped := count(f.logs.since(mark), func(r logRecord) bool { return r.msg == "view counts dropped" })
	total := readViewTotal(t, topo.Config, "hello-redis")
	served := articlesOK.Load()
	switch {
	case total > served:
		t.Errorf("views of hello-redis: total %d, but only %d views served (distinct visitors): counted twice", total, served)
	case total < served:
		t.Logf("views of hello-redis: total %d of %d served: %d lost with the master (not durable: no WaitReplicas); %d drop reports",
			total, served, served-total, dropped)
	default:
		t.Logf("views of hello-redis: total %d of %d served: none lost; %d drop reports", total, served, dropped)
	}
}

// readViewTotal reads the view total of slug through a new client on conn.
func readViewTotal(t *testing.T, conn core.Config, slug string) int64 {
	t.Helper()
	c, err := core.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	views, err := viewcount.New(c, viewcount.Options{
		Namespace: core.MakeKey(namespace, "views"),
		Secret:    []byte("reading totals only: any secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer views.Close(ctx)
	counts, err := views.Counts(ctx, slug, 0)
	if err != nil {
		t.Fatalf("reading the views of %s: %v", slug, err)
	}
	return counts.Total
}
