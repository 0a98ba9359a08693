package core

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN page: large enough to keep round
// trips few, small enough that one page never blocks the server.
const scanCount = 1000

// FindKeys returns up to limit keys matching the glob pattern (* ? [abc], as
// Redis MATCH). It SCANs every master page by page and stops as soon as it
// has limit keys, so it never reads the whole keyspace into memory. The order
// is unspecified. Escape user input placed in pattern with EscapeGlob.
func (c *Client) FindKeys(ctx context.Context, pattern string, limit int) ([]string, error) {
	if err := c.checkPattern(ctx, "find keys", pattern); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("core: find keys %q: %w: limit %d must be positive", pattern, ErrInvalidArgument, limit)
	}
	var (
		mu   sync.Mutex
		seen = make(map[string]struct{})
		out  []string
	)
	err := c.scanPages(ctx, pattern, func(_ context.Context, keys []string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys {
			if len(out) >= limit {
				break
			}
			if _, dup := seen[k]; !dup { // SCAN may return a key twice
				seen[k] = struct{}{}
				out = append(out, k)
			}
		}
		return len(out) >= limit, nil
	})
	if err != nil {
		return nil, wrap("find keys", pattern, err)
	}
	return out, nil
}

// InvalidatePattern deletes every key matching the glob pattern and returns
// how many it deleted. It streams: each SCAN page is deleted (UNLINK, grouped
// by slot, one pipeline) before the next page is read, so memory stays flat
// however many keys match. Keys written while it runs may survive. Escape user
// input placed in pattern with EscapeGlob, or use InvalidatePrefix.
func (c *Client) InvalidatePattern(ctx context.Context, pattern string) (int64, error) {
	if err := c.checkPattern(ctx, "invalidate pattern", pattern); err != nil {
		return 0, err
	}
	var deleted atomic.Int64
	err := c.scanPages(ctx, pattern, func(ctx context.Context, keys []string) (bool, error) {
		n, err := unlinkGroups(ctx, c.rdb, c.groupBySlot(keys, bulkChunk))
		deleted.Add(n)
		return false, err
	})
	return deleted.Load(), wrap("invalidate pattern", pattern, err)
}

// InvalidatePrefix deletes every key that starts with prefix. The prefix is
// matched literally (glob characters in it are escaped), so a user-supplied
// id of "*" deletes only keys that really start with "*". An empty prefix is
// ErrInvalidKey: it would delete everything.
func (c *Client) InvalidatePrefix(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, fmt.Errorf("core: invalidate prefix: %w: empty prefix would match every key", ErrInvalidKey)
	}
	return c.InvalidatePattern(ctx, EscapeGlob(prefix)+"*")
}

// PurgeCache deletes the cache entries of service, the keys matching
// "{service}:cache:*" (service is matched literally). An empty service purges
// the cache of every service ("*:cache:*"). It returns how many keys it
// deleted.
func (c *Client) PurgeCache(ctx context.Context, service string) (int64, error) {
	if service == "" {
		return c.InvalidatePattern(ctx, "*:cache:*")
	}
	return c.InvalidatePattern(ctx, MakeKey(EscapeGlob(service), "cache", "*"))
}

func (c *Client) checkPattern(ctx context.Context, op, pattern string) error {
	if err := c.check(ctx, op); err != nil {
		return err
	}
	if pattern == "" {
		return fmt.Errorf("core: %s: %w: empty pattern", op, ErrInvalidKey)
	}
	return nil
}

// scanPages SCANs every master (concurrently on a cluster) for pattern and
// hands each non-empty page to page; page returns stop=true to end the scan
// on all masters.
func (c *Client) scanPages(ctx context.Context, pattern string, page func(context.Context, []string) (stop bool, err error)) error {
	var stopped atomic.Bool
	scanNode := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for !stopped.Load() {
			keys, next, err := node.Scan(ctx, cursor, pattern, scanCount).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				stop, err := page(ctx, keys)
				if err != nil {
					return err
				}
				if stop {
					stopped.Store(true)
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
		return nil
	}
	if c.cluster != nil {
		return c.cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scanNode(ctx, node)
		})
	}
	return scanNode(ctx, c.rdb)
}
