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
