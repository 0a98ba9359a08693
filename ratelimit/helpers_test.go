package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration)        { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)            { c.ns.Store(t.UnixNano()) }
func windowStart(w time.Duration) time.Time { return time.Now().Truncate(w) }

// midWindow is a clock pinned inside the current window of length w, far
// enough from its end that the test cannot cross it.
func midWindow(w time.Duration) *clock { return newClock(windowStart(w).Add(w / 100)) }

// forEachKey calls fn with every key under prefix, on every master.
func forEachKey(rdb redis.UniversalClient, prefix string, fn func(c *redis.Client, key string)) error {
	ctx := context.Background()
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			fn(c, iter.Val())
		}
		return iter.Err()
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, scan)
	}
	return scan(ctx, rdb.(*redis.Client))
}

// checkTTLs registers a cleanup that fails t if any key under prefix has no
// TTL: the invariant every limiter keeps.
func checkTTLs(t *testing.T, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		var mu sync.Mutex
		var bad []string
		err := forEachKey(rdb, prefix, func(c *redis.Client, key string) {
			if ttl, err := c.PTTL(context.Background(), key).Result(); err == nil && ttl == -1 {
				mu.Lock()
				bad = append(bad, key)
				mu.Unlock()
			}
		})
		if err != nil {
			t.Errorf("scanning %s*: %v", prefix, err)
		}
		if len(bad) > 0 {
			t.Errorf("keys without TTL under %s: got %v, want none", prefix, bad)
		}
	})
}

// countKeys returns how many keys under prefix exist.
func countKeys(t *testing.T, rdb redis.UniversalClient, prefix string) int {
	t.Helper()
	var n atomic.Int64
	if err := forEachKey(rdb, prefix, func(*redis.Client, string) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

// cmdCounter is a go-redis hook counting round trips: one per Process and
// one per pipeline (a batch of commands sent together).
type cmdCounter struct{ trips, cmds atomic.Int64 }

func (h *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}
func (h *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
