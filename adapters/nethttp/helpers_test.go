package nethttp_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// checkTTLs registers a cleanup that fails t if any key of rdb, a server of
// the test's own, has no TTL: the invariant every limiter keeps. It runs
// before the server stops (cleanups run last registered first).
func checkTTLs(t *testing.T, rdb *redis.Client) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		var bad []string
		n := 0
		iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			n++
			if ttl, err := rdb.PTTL(ctx, iter.Val()).Result(); err == nil && ttl == -1 {
				bad = append(bad, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning keys: %v", err)
		}
		if n == 0 {
			t.Errorf("keys: got none, want the limiters' counters")
		}
		if len(bad) > 0 {
			t.Errorf("keys without TTL: got %q, want none", bad)
		}
	})
}
