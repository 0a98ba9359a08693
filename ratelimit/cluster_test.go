package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// A stopped master makes the cluster answer CLUSTERDOWN: a decision fails
// at once, and the middleware applies its policy (open: 200, closed: 503).
func TestClusterDownGoesThroughFailurePolicy(t *testing.T) {
	t.Parallel()
	srvs, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	lims := kindsTimeout(t, rdb, "rl", midWindow(time.Hour), 100*time.Millisecond)
	for name := range lims {
		if _, err := kinds(t, rdb, "rl", midWindow(time.Hour))[name].Allow(ctx, "k"); err != nil {
			t.Fatalf("%s before the failure: %v", name, err)
		}
	}
	srvs[0].Stop()
	redistest.WaitClusterState(t, addrs[1], "fail")
	for name := range lims {
		for _, failClosed := range []bool{false, true} {
			var reported, clusterDown atomic.Int64
			onError := func(ctx context.Context, err error) {
				if core.RequestFromContext(ctx) == nil {
					t.Errorf("%s: OnError without the request in its ctx", name)
				}
				reported.Add(1)
				if strings.Contains(err.Error(), "CLUSTERDOWN") {
					clusterDown.Add(1)
				}
			}
			l := kindsOpts(t, rdb, "rl", midWindow(time.Hour), 100*time.Millisecond, onError)[name]
			g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: l, FailClosed: failClosed})
			if err != nil {
				t.Fatal(err)
			}
			ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
			for i := range 6 { // ids spread over every master's slots
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
				w := httptest.NewRecorder()
				start := time.Now()
				g.Serve(w, r, ok)
				want := map[bool]int{false: 200, true: 503}[failClosed]
				if w.Code != want || time.Since(start) > time.Second {
					t.Fatalf("%s failClosed=%v: got %d after %v, want %d", name, failClosed, w.Code, time.Since(start), want)
				}
			}
			// Keys on the stopped master time out; the others get CLUSTERDOWN.
			if reported.Load() != 6 || clusterDown.Load() == 0 {
				t.Fatalf("%s failClosed=%v: got %d errors reported (%d CLUSTERDOWN), want 6 (some CLUSTERDOWN)",
					name, failClosed, reported.Load(), clusterDown.Load())
			}
			if st := l.(*ratelimit.RedisLimiter).Stats(); st.Errors != 6 {
				t.Fatalf("%s failClosed=%v: Stats: got %+v, want 6 errors", name, failClosed, st)
			}
		}
	}
}

// A limiter key's slot migrates between masters while requests run: MOVED
// and ASK are followed, and the count is exact.
func TestSlotMigrationKeepsExactCounts(t *testing.T) {
	t.Parallel()
	_, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	checkTTLs(t, rdb, "rl")
	ctx := context.Background()
	clk := midWindow(time.Hour)
	mk := func() *ratelimit.RedisLimiter {
		l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 1_000_000, Window: time.Hour,
			Namespace: "rl", Now: clk.Now, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lim := mk()
	var ok, failed atomic.Int64
	hit := func() {
		if _, err := lim.Allow(ctx, "mover"); err != nil {
			failed.Add(1)
			t.Errorf("Allow during migration: %v", err)
			return
		}
		ok.Add(1)
	}
	hit() // the key exists on its first master
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					hit()
				}
			}
		})
	}
	key := "rl:fw:{mover}:default:3600000:" + fmt.Sprint(clk.Now().UnixNano()/int64(time.Hour))
	redistest.MigrateSlot(t, addrs, core.Slot(key), func() {
		for range 50 { // the key moved, the slot not yet: ASK
			hit()
		}
	})
	for range 50 { // the slot moved: MOVED, then the new map
		hit()
	}
	close(stop)
	wg.Wait()
	res, err := mk().Peek(ctx, "mover")
	if err != nil {
		t.Fatal(err)
	}
	if used := int64(res.Limit - res.Remaining); used != ok.Load() || failed.Load() != 0 {
		t.Fatalf("counted %d, want %d (allowed calls), with %d failures, want 0", used, ok.Load(), failed.Load())
	}
}
