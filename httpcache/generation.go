package httpcache

import (
	"context"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
)

func (c *Cache) genKey() string { return core.MakeKey(c.opts.Namespace, "gen") }

// genFailure is the last failed first read of the generation number.
type genFailure struct {
	at  time.Time
	err error
}

// generation returns the current generation number, rereading it from Redis
// at most every GenerationRefresh. Until it was read once, concurrent
// callers share one read (each waits up to its own context), and for
// RedisTimeout after a failed read callers fail at once instead of queueing
// on an unresponsive Redis. Later refreshes are done by one request while
// the others use the known value.
func (c *Cache) generation(ctx context.Context) (int64, error) {
	if g := c.gen.Load(); g >= 0 {
		return c.refreshGeneration(ctx, g), nil
	}
	if f := c.genFail.Load(); f != nil && time.Since(f.at) < c.opts.RedisTimeout {
		return 0, f.err
	}
	ch := c.genFlight.DoChan("gen", func() (any, error) {
		if g := c.gen.Load(); g >= 0 {
			return g, nil
		}
		n, err := c.readGeneration(ctx)
		if err != nil {
			c.genFail.Store(&genFailure{at: time.Now(), err: err})
			return int64(0), err
		}
		c.genFail.Store(nil)
		return n, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int64), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("httpcache: read generation: %w", ctx.Err())
	}
}

// refreshGeneration rereads the generation when GenerationRefresh has
// passed and no other request is rereading it; on error it keeps g.
func (c *Cache) refreshGeneration(ctx context.Context, g int64) int64 {
	if time.Duration(time.Now().UnixNano()-c.genRead.Load()) < c.opts.GenerationRefresh || !c.genLoading.CompareAndSwap(false, true) {
		return g
	}
	defer c.genLoading.Store(false)
	n, err := c.readGeneration(ctx)
	if err != nil {
		c.reportError(ctx, err)
		return g
	}
	return n
}

// readGeneration reads the generation number from Redis (creating a lost
// one above every number used before, see core.Client.Generation) and
// records it. A read that raced with this process'
// PurgeAll never moves the number back; otherwise the value read wins: it
// is the number every process uses. It returns the number now in use.
func (c *Cache) readGeneration(ctx context.Context) (int64, error) {
	bumps := c.genBumps.Load()
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	n, err := c.c.Generation(rctx, c.genKey())
	if err != nil {
		return 0, fmt.Errorf("httpcache: read generation: %w", err)
	}
	c.genMu.Lock()
	defer c.genMu.Unlock()
	if cur := c.gen.Load(); n < cur && c.genBumps.Load() != bumps {
		n = cur // PurgeAll stored a newer number while we read
	}
	c.gen.Store(n)
	c.genRead.Store(time.Now().UnixNano())
	return n, nil
}

// PurgeAll makes every stored response unreachable in O(1) by incrementing
// the generation number (created like a lost one when missing, so the new
// number is higher than any used before); old entries expire on their own
// TTL. It takes effect at once in this process and within
// GenerationRefresh in others.
func (c *Cache) PurgeAll(ctx context.Context) error {
	n, err := c.c.BumpGeneration(ctx, c.genKey())
	if err != nil {
		return fmt.Errorf("httpcache: purge all: %w", err)
	}
	c.genMu.Lock()
	if n > c.gen.Load() {
		c.gen.Store(n)
	}
	c.genBumps.Add(1)
	c.genRead.Store(time.Now().UnixNano())
	c.genMu.Unlock()
	return nil
}
