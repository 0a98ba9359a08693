package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// limiterTopology is a deployment a failover test breaks: a core client on
// it and kill, which kills a master (the one holding key's slot, on a
// cluster) and returns when it was killed and when the deployment was
// healthy again. maxRecovery is how long after healthy the limiter may
// still fall back.
type limiterTopology struct {
	c           *core.Client
	kill        func(key string) (killed, healthy time.Time)
	maxRecovery time.Duration
}

func limiterSentinel(t *testing.T) limiterTopology {
	s := redistest.StartSentinel(t)
	c, err := core.New(core.Config{SentinelAddrs: s.SentinelAddrs, MasterName: s.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return limiterTopology{c: c, maxRecovery: time.Second, kill: func(string) (time.Time, time.Time) {
		killed := time.Now()
		_, healthy := s.WaitHealthy(s.KillMaster())
		return killed, healthy
	}}
}

func limiterCluster(t *testing.T) limiterTopology {
	rc := redistest.StartReplicaCluster(t)
	c, err := core.New(core.Config{ClusterAddrs: rc.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// On a cluster the client learns the new master only from a slot-map
	// reload (core reloads on errors), which go-redis sends to a node picked
	// at random among those it knows, the killed one included (likely the
	// slow case: dial retries first); every request until then times out
	// (50 ms) and falls back. Measured 1.0-1.2 s after healthy, where
	// Sentinel's is 0; 2 s bounds it.
	return limiterTopology{c: c, maxRecovery: 2 * time.Second, kill: func(key string) (time.Time, time.Time) {
		m, err := c.Redis().(*redis.ClusterClient).MasterForKey(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		rc.Kill(m.Options().Addr)
		return killed, rc.WaitHealthy()
	}}
}

// TestLimiterSentinelFailover SIGKILLs the master of a Sentinel deployment
// under load: see limiterFailover.
func TestLimiterSentinelFailover(t *testing.T) {
	t.Parallel()
	limiterFailover(t, limiterSentinel(t))
}

// TestLimiterClusterFailover SIGKILLs the master of a Redis Cluster that
// holds the limited client's slot under load: see limiterFailover.
func TestLimiterClusterFailover(t *testing.T) {
	t.Parallel()
	limiterFailover(t, limiterCluster(t))
}

// limiterFailover kills a master while four goroutines send requests of
// one client through a Guard whose fixed-window limiter has LocalFallback:
// every request is decided (200 or 429, never an error), the admissions
// over the whole run stay within Limit per window spanned plus one extra
// window's worth, and decisions are back on Redis within 1 s of the
// deployment being healthy (2 s on a cluster: see limiterCluster).
//
// Where the extra window comes from: the Redis counters never learn of the
// fallback's admissions, so the window in which Redis answers again may
// admit up to Limit more. The window of the kill adds nothing here because
// the load exhausts each window within milliseconds and the deny cache then
// denies locally until the window ends (a kill in the first milliseconds of
// a window, before the key was denied, could add up to that window's
// remaining units: rare, and not what this bound covers).
func limiterFailover(t *testing.T, topo limiterTopology) {
	const limit, window = 20, 500 * time.Millisecond
	c := topo.c
	var (
		mu           sync.Mutex
		lastFallback time.Time
		fallbacks    int
		decErrs      int
	)
	l, err := ratelimit.NewFixedWindow(c, ratelimit.Options{
		Limit: limit, Window: window, Namespace: redistest.Prefix(t), LocalFallback: true,
		OnDecision: func(d ratelimit.Decision) {
			mu.Lock()
			defer mu.Unlock()
			if d.Fallback {
				fallbacks++
				lastFallback = time.Now()
			}
			if d.Err != nil {
				decErrs++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: l})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	var (
		allowed, denied, other int
		stop                   = make(chan struct{})
		wg                     sync.WaitGroup
	)
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := httptest.NewRecorder()
				g.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), ok) // one client: 192.0.2.1
				mu.Lock()
				switch w.Code {
				case http.StatusOK:
					allowed++
				case http.StatusTooManyRequests:
					denied++
				default:
					other++
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// Every counter of the one client (key "ip:192.0.2.1") is in the slot
	// of its hash tag.
	killed, healthy := topo.kill("{ip:192.0.2.1}")
	last := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return lastFallback
	}
	for deadline := healthy.Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if time.Since(last()) > 500*time.Millisecond && time.Since(healthy) > 500*time.Millisecond {
			break
		}
	}
	close(stop)
	wg.Wait()
	end := time.Now()
	spanned := int(end.UnixNano()/int64(window)-start.UnixNano()/int64(window)) + 1
	bound := limit*spanned + limit
	recovery := max(0, last().Sub(healthy))
	st := l.Stats()
	t.Logf("healthy %v after the kill; back on Redis %v after healthy; %d requests: %d allowed, %d denied, %d other; %d fallback decisions, %d Redis errors; %d windows of %v spanned: allowed %d, limit×windows %d (over-admission %d, bound %d)",
		healthy.Sub(killed).Round(time.Millisecond), recovery.Round(time.Millisecond), allowed+denied+other, allowed, denied, other,
		fallbacks, st.Errors, spanned, window, allowed, limit*spanned, allowed-limit*spanned, bound)
	if other > 0 || decErrs > 0 {
		t.Errorf("%d answers neither 200 nor 429, %d decisions with an error; want none", other, decErrs)
	}
	if fallbacks == 0 {
		t.Errorf("no fallback decision: the kill was not seen")
	}
	if allowed > bound {
		t.Errorf("allowed %d over %d windows, want <= %d (Limit per window plus one window)", allowed, spanned, bound)
	}
	if recovery > topo.maxRecovery {
		t.Errorf("fallback decisions until %v after healthy, want <= %v", recovery, topo.maxRecovery)
	}
}
