package httpcache_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
)

// With Redis not answering before the generation number was ever read,
// concurrent requests share one read bounded by Timeout, and for
// Timeout after it failed requests fail open at once.
func TestColdGenerationRedisBlackholed(t *testing.T) {
	t.Parallel()
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	const timeout = 200 * time.Millisecond
	c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{Timeout: timeout}, nil)
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("from handler"))
	}))
	p.Blackhole()
	const n = 20
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			bodies[i] = do(h, "GET", "http://example.com/cold").Body.String()
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i := range n {
		if bodies[i] != "from handler" || took[i] > 2*timeout {
			t.Errorf("request %d of %d concurrent: got %q after %v, want the handler's answer within %v", i, n, bodies[i], took[i], 2*timeout)
		}
	}
	start := time.Now()
	w := do(h, "GET", "http://example.com/cold")
	if took := time.Since(start); took > timeout/2 || !strings.Contains(w.Header().Get("Cache-Status"), "detail=redis-error") {
		t.Errorf("request right after the failed read: got %q after %v, want a redis-error pass well within %v",
			w.Header().Get("Cache-Status"), took, timeout)
	}
	p.Restore()
	poll(t, "the cache to store again once Redis answers", func() bool {
		return strings.Contains(do(h, "GET", "http://example.com/cold").Header().Get("Cache-Status"), "stored")
	})
}

// A generation reread that raced with this process' PurgeAll (it read the
// number before PurgeAll incremented it) never moves the generation back:
// the purged entries stay unreachable.
func TestGenerationNeverGoesBackAfterPurgeAll(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		genKey := tc.Prefix + ":gen"
		var c *httpcache.Cache
		armed := make(chan struct{}, 1)
		rdb := hookedClient(t, tc.Target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
			err := next(ctx, cmd)
			if err == nil && cmdIs(cmd, "evalsha", genKey) { // the generation script
				select {
				case <-armed: // PurgeAll lands after the reread got its answer
					if perr := c.PurgeAll(ctx); perr != nil {
						t.Errorf("PurgeAll: %v", perr)
					}
				default:
				}
			}
			return err
		})
		c = newCache(t, rdb, tc.Prefix, httpcache.Options{GenerationRefresh: time.Nanosecond}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60}, body: "v"})
		h := cached(c, o)
		do(h, "GET", "http://example.com/g")
		if cs := do(h, "GET", "http://example.com/g").Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
			t.Fatalf("before PurgeAll: got %q, want a hit", cs)
		}
		armed <- struct{}{}
		if cs := do(h, "GET", "http://example.com/g").Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=miss") {
			t.Errorf("request whose generation reread raced PurgeAll: got %q, want a miss", cs)
		}
		if len(armed) != 0 {
			t.Fatal("the request did not reread the generation")
		}
	})
}

// A generation key lost after PurgeAll (eviction, failover, DEL) never
// brings purged responses back: the number read next is higher than any
// used before, in the process that purged and in another one.
func TestLostGenerationKeyKeepsPurgedEntriesGone(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		opts := httpcache.Options{GenerationRefresh: time.Nanosecond} // every request rereads it
		c := newCache(t, tc.RDB, tc.Prefix, opts, nil)
		other := newCache(t, redistest.NewClient(t, tc.Target), tc.Prefix, opts, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60}, body: "old"})
		h, h2 := cached(c, o), cached(other, o)
		do(h, "GET", "http://example.com/lost")
		for name, h := range map[string]http.Handler{"purging": h, "other": h2} {
			if w := do(h, "GET", "http://example.com/lost"); w.Body.String() != "old" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
				t.Fatalf("%s instance before PurgeAll: got %q %q, want a hit on \"old\"", name, w.Header().Get("Cache-Status"), w.Body.String())
			}
		}
		if err := c.PurgeAll(ctx); err != nil {
			t.Fatalf("PurgeAll: got %v, want nil", err)
		}
		if err := tc.RDB.Del(ctx, tc.Prefix+":gen").Err(); err != nil {
			t.Fatal(err)
		}
		o.set(resp{hdr: []string{ok60}, body: "new"})
		for _, tt := range []struct {
			name string
			h    http.Handler
		}{{"purging", h}, {"other", h2}} {
			w := do(tt.h, "GET", "http://example.com/lost")
			if w.Body.String() != "new" {
				t.Errorf("%s instance after PurgeAll and a lost generation key: got %q %q, want the handler's \"new\"", tt.name, w.Header().Get("Cache-Status"), w.Body.String())
			}
		}
	})
}
