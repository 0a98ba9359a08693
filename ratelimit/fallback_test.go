package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// With LocalFallback, a limiter whose Redis is down limits each key in
// memory, exactly Limit per window for this process (GCRA: Burst, then
// the rate; Multi: every policy), and decides on Redis again as soon as it
// is back.
func TestLocalFallback(t *testing.T) {
	t.Parallel()
	const limit = 5
	kinds := []struct {
		name string
		make func(c *core.Client, o ratelimit.Options) (*ratelimit.RedisLimiter, error)
		opts ratelimit.Options
	}{
		{"fixed", ratelimit.NewFixedWindow, ratelimit.Options{Limit: limit, Window: time.Minute}},
		{"gcra", ratelimit.NewGCRA, ratelimit.Options{Limit: limit, Window: time.Minute}},
		{"multi", ratelimit.NewMulti, ratelimit.Options{Policies: []ratelimit.Policy{
			{Name: "minute", Limit: limit, Window: time.Minute}, {Name: "hour", Limit: 3 * limit, Window: time.Hour}}}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartServer(t, redistest.ServerOptions{})
			c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true}))
			clk := newClock(time.Now().Truncate(time.Hour).Add(time.Second))
			var reported atomic.Int64
			o := k.opts
			o.LocalFallback, o.Now, o.DenyCacheSize = true, clk.Now, -1
			o.OnError = func(context.Context, error) { reported.Add(1) }
			l, err := k.make(c, o)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// allowed counts the allowed decisions of n calls for key, all
			// of them Fallback or none.
			allowed := func(key string, n int, fallback bool) int {
				t.Helper()
				got := 0
				for range n {
					res, err := l.Allow(ctx, key)
					if err != nil {
						t.Fatalf("Allow: %v", err)
					}
					if res.Fallback != fallback {
						t.Fatalf("Allow: Fallback %v, want %v", res.Fallback, fallback)
					}
					if res.Allowed {
						got++
					} else if res.RetryAfter <= 0 {
						t.Fatalf("denied with RetryAfter %v", res.RetryAfter)
					}
				}
				return got
			}
			if got := allowed("a", 2, false); got != 2 {
				t.Fatalf("Redis up: %d allowed, want 2", got)
			}
			srv.Stop()
			if got := allowed("a", 3*limit, true); got != limit {
				t.Fatalf("Redis down: %d of %d allowed, want %d (the limit, per process)", got, 3*limit, limit)
			}
			if got := allowed("b", 2*limit, true); got != limit {
				t.Fatalf("Redis down, key b: %d allowed, want %d", got, limit)
			}
			st := l.Stats()
			if st.Fallback != 5*limit || st.Errors != 5*limit || reported.Load() != 5*limit ||
				st.Allowed != 2+2*limit || st.Denied != 3*limit {
				t.Fatalf("Stats %+v, OnError %d: want %d fallback decisions and errors", st, reported.Load(), 5*limit)
			}
			// A Guard answers 429, not 503 or next, for a key over its
			// local limit.
			g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: l, FailClosed: true,
				Key: func(*http.Request) (string, error) { return "a", nil }})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			g.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("Guard during the outage: %d, want 429", w.Code)
			}
			// Next window (GCRA: the quota is back): the local limit again.
			clk.Add(time.Minute)
			if got := allowed("a", 2*limit, true); got != limit {
				t.Fatalf("Redis down, next window: %d allowed, want %d", got, limit)
			}
			srv.Restart()
			clk.Add(time.Minute)
			// Back on Redis as soon as the client reaches it again (go-redis
			// redials a refused server about once a second; a pooled
			// connection the restart broke fails its next command once).
			deadline := time.Now().Add(3 * time.Second)
			for res, _ := l.Allow(ctx, "probe"); res.Fallback; res, _ = l.Allow(ctx, "probe") {
				if time.Now().After(deadline) {
					t.Fatal("still deciding locally 3s after Restart")
				}
				time.Sleep(10 * time.Millisecond)
			}
			before := l.Stats().Fallback
			if got := allowed("a", 2*limit, false); got != limit {
				t.Fatalf("Redis back: %d allowed, want %d", got, limit)
			}
			if st := l.Stats(); st.Fallback != before {
				t.Fatalf("Redis back: Stats.Fallback %d, want %d", st.Fallback, before)
			}
			if n, err := srv.Client(t, nil).DBSize(ctx).Result(); err != nil || n == 0 {
				t.Fatalf("Redis back: %d keys (%v), want the limiter's", n, err)
			}
		})
	}
}

// The fallback remembers at most LocalFallbackSize keys.
func TestLocalFallbackBounded(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true}))
	srv.Stop()
	l, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 1, LocalFallback: true, LocalFallbackSize: 64,
		OnError: func(context.Context, error) {}})
	if err != nil {
		t.Fatal(err)
	}
	if n := ratelimit.FallbackKeys(l); n != 0 {
		t.Fatalf("%d keys, want 0", n)
	}
	for i := range 1000 {
		if res, err := l.Allow(context.Background(), string(rune('a'+i%26))+time.Duration(i).String()); err != nil || !res.Allowed {
			t.Fatalf("Allow: %+v, %v", res, err)
		}
	}
	if n := ratelimit.FallbackKeys(l); n > 64 {
		t.Fatalf("%d keys, want at most 64", n)
	}
}
