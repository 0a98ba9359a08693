package httpcache

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// SetClock replaces the cache's clock (for freshness and age) in tests.
func SetClock(c *Cache, now func() time.Time) { c.now = now }

func coreForTest() *core.Client {
	return core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}))
}

// QueuedReads reports how many entry reads wait for a batch.
func QueuedReads(c *Cache) int { return c.gets.Queued() }

// AloneReads reports how many of c's lookups may be sent at once without
// batching (c must be batched).
func AloneReads(c *Cache) int { return aloneLookups(c.c.Redis().(*redis.Client)) }

// BatchedReads reports whether c's lookups are batched.
func BatchedReads(c *Cache) bool { return c.gets != nil }

// FlightWaiters reports how many requests wait for the handler call in flight
// for the URL key (not hashed: short, brace-free keys only).
func FlightWaiters(c *Cache, key string) int {
	c.flight.mu.Lock()
	defer c.flight.mu.Unlock()
	if cl, ok := c.flight.calls[key]; ok {
		return cl.waiters
	}
	return 0
}
