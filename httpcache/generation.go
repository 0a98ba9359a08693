package httpcache

import (
	"context"
	"fmt"
	"strconv"

	"github.com/rediskit/rediskit/internal/call"
)

// generation returns the current generation number (see
// internal/generation: one shared first read, rereads at most every
// GenerationRefresh, fail-fast for Timeout after a failed first read).
// With the in-process tier it is also reread on every call while the
// tier's subscription is not known to be current (see local.fresh): an
// announced PurgeAll may have been missed, and the bound holds for it too.
func (c *Cache) generation(ctx context.Context) (int64, error) {
	var n int64
	var err error
	if l := c.local; l != nil && !l.fresh() {
		n, err = c.gen.Reread(ctx)
	} else {
		n, err = c.gen.Get(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("httpcache: %w", err)
	}
	return n, nil
}

// PurgeAll makes every stored response unreachable in O(1) by incrementing
// the generation number (created like a lost one when missing, so the new
// number is higher than any used before); old entries expire on their own
// TTL. It takes effect at once in this process and within
// GenerationRefresh in others. Its one Redis call is bounded by Timeout.
func (c *Cache) PurgeAll(ctx context.Context) error {
	ctx, cancel := call.Context(ctx, c.opts.Timeout, c.wait)
	defer cancel()
	n, err := c.gen.Bump(ctx)
	if err != nil {
		return fmt.Errorf("httpcache: purge all: %w", err)
	}
	return c.publish(ctx, genPrefix+strconv.FormatInt(n, 10))
}
