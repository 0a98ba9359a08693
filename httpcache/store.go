package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// storeVary writes one variant into the hash at KEYS[1]: it replaces a
// non-hash value or a hash with another Vary spec, sets the variant, and
// never shortens the key's TTL. ARGV: spec, field, blob, ttl ms.
var storeVary = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])
if type(t) == 'table' then t = t.ok end
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
local old = redis.call('HGET', KEYS[1], 'vary')
if old and old ~= ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'vary', ARGV[1], ARGV[2], ARGV[3])
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

func (c *Cache) genKey() string { return core.MakeKey(c.opts.Namespace, "gen") }

// entryKey is the Redis key of all variants of one URL key: the slot id sits
// in a hash tag so the entry and its variants share a cluster slot.
func (c *Cache) entryKey(gen int64, slot string) string {
	return core.MakeKey(c.opts.Namespace, "g"+strconv.FormatInt(gen, 10), "{"+slot+"}")
}

func (c *Cache) tagKey(gen int64, tag string) string {
	return core.MakeKey(c.opts.Namespace, "g"+strconv.FormatInt(gen, 10), "tag", tag)
}

// generation returns the current generation number, rereading it from Redis
// at most every GenerationRefresh. Only the first read blocks; later
// refreshes are done by one request while others use the known value.
func (c *Cache) generation(ctx context.Context) (int64, error) {
	g := c.gen.Load()
	if g >= 0 {
		if time.Duration(time.Now().UnixNano()-c.genRead.Load()) < c.opts.GenerationRefresh || !c.genLoading.CompareAndSwap(false, true) {
			return g, nil
		}
		defer c.genLoading.Store(false)
		if n, err := c.readGeneration(ctx); err == nil {
			return n, nil
		}
		return g, nil
	}
	c.genMu.Lock()
	defer c.genMu.Unlock()
	if g = c.gen.Load(); g >= 0 {
		return g, nil
	}
	return c.readGeneration(ctx)
}

func (c *Cache) readGeneration(ctx context.Context) (int64, error) {
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	n, err := c.c.Redis().Get(rctx, c.genKey()).Int64()
	if errors.Is(err, redis.Nil) {
		n, err = 0, nil
	}
	if err != nil {
		err = fmt.Errorf("httpcache: read generation: %w", err)
		c.reportError(ctx, err)
		return 0, err
	}
	c.genRead.Store(time.Now().UnixNano())
	c.gen.Store(n)
	return n, nil
}

// lookup reads the entry for slot that matches r's Vary headers. A missing,
// expired or corrupt entry is (nil, nil); err is a Redis failure.
func (c *Cache) lookup(ctx context.Context, gen int64, slot string, r *http.Request) (*entry, error) {
	key := c.entryKey(gen, slot)
	rctx, cancel := context.WithTimeout(ctx, c.opts.RedisTimeout) // a read may stop with its client
	defer cancel()
	rdb := c.c.Redis()
	s, err := rdb.Get(rctx, key).Result()
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		var spec string
		if spec, err = rdb.HGet(rctx, key, "vary").Result(); err == nil {
			s, err = rdb.HGet(rctx, key, "v:"+variantID(spec, r.Header)).Result()
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: lookup %s: %w", key, err)
	}
	e, err := decodeEntry(s)
	if err != nil {
		c.reportError(ctx, fmt.Errorf("httpcache: lookup %s: %w", key, err))
		return nil, nil
	}
	if e.vary != "" {
		if c.now().UnixNano() > e.responseTime+int64(c.ttlFor(e)) {
			return nil, nil // a variant past its own retention in a longer-lived hash
		}
		e.variant = variantID(e.vary, r.Header)
	}
	return e, nil
}

// ttlFor is an entry's Redis TTL: remaining freshness plus the longest stale
// window, capped by MaxTTL.
func (c *Cache) ttlFor(e *entry) time.Duration {
	fresh := max(e.lifetime-e.initialAge, 0)
	return min(fresh+max(e.swr, e.sie, c.opts.StaleRetention), c.opts.MaxTTL)
}

// put stores e under slot for the request headers reqH (which select the
// variant), after adding the key to its tag sets, so a stored entry is
// always reachable by PurgeTag.
func (c *Cache) put(ctx context.Context, gen int64, slot string, e *entry, reqH http.Header, tags []string) error {
	ttl := c.ttlFor(e)
	if ttl < time.Millisecond {
		return nil
	}
	key := c.entryKey(gen, slot)
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	rdb := c.c.Redis()
	if len(tags) > 0 {
		_, err := rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
			for _, t := range tags {
				tk := c.tagKey(gen, t)
				p.SAdd(rctx, tk, key)
				p.Do(rctx, "PEXPIRE", tk, ttl.Milliseconds(), "NX")
				p.Do(rctx, "PEXPIRE", tk, ttl.Milliseconds(), "GT")
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("httpcache: store tags of %s: %w", key, err)
		}
	}
	blob := e.encode()
	var err error
	if e.vary == "" {
		err = rdb.Set(rctx, key, blob, ttl).Err()
	} else {
		field := "v:" + variantID(e.vary, reqH)
		err = storeVary.Run(rctx, rdb, []string{key}, e.vary, field, blob, ttl.Milliseconds()).Err()
	}
	if err != nil {
		return fmt.Errorf("httpcache: store %s: %w", key, err)
	}
	return nil
}

// remove deletes every variant stored under the given slot ids.
func (c *Cache) remove(ctx context.Context, slots ...string) (int64, error) {
	gen, err := c.generation(ctx)
	if err != nil {
		return 0, err
	}
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	var n int64
	for _, s := range slots {
		d, err := c.c.Redis().Unlink(rctx, c.entryKey(gen, s)).Result()
		if err != nil {
			return n, fmt.Errorf("httpcache: purge: %w", err)
		}
		n += d
	}
	return n, nil
}

// Purge removes the stored responses (every variant) for rawURL, an absolute
// URL keyed like a request for it: host mapping, ignored and sorted query
// parameters apply. It reports whether anything was removed.
func (c *Cache) Purge(ctx context.Context, rawURL string) (bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false, fmt.Errorf("httpcache: purge %q: need an absolute URL", rawURL)
	}
	scheme := strings.ToLower(u.Scheme)
	host, ok := c.keyHost(u.Host, scheme)
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrHostNotAllowed, u.Host)
	}
	n, err := c.remove(ctx, c.slotID(c.urlKey(scheme, host, u)))
	if err == nil {
		c.stats.purged.Add(n)
	}
	return n > 0, err
}

// PurgeTag removes every stored response that listed tag in its tag header
// and returns how many URL keys were removed. Its cost is proportional to
// the number of entries under the tag, not to the size of the cache.
func (c *Cache) PurgeTag(ctx context.Context, tag string) (int64, error) {
	gen, err := c.generation(ctx)
	if err != nil {
		return 0, err
	}
	tk := c.tagKey(gen, tag)
	rdb := c.c.Redis()
	var n int64
	var cursor uint64
	for {
		keys, next, err := rdb.SScan(ctx, tk, cursor, "", 500).Result()
		if err != nil {
			return n, fmt.Errorf("httpcache: purge tag %q: %w", tag, err)
		}
		cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("httpcache: purge tag %q: %w", tag, err)
		}
		for _, cmd := range cmds {
			n += cmd.(*redis.IntCmd).Val()
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if err := rdb.Unlink(ctx, tk).Err(); err != nil {
		return n, fmt.Errorf("httpcache: purge tag %q: %w", tag, err)
	}
	c.stats.purged.Add(n)
	return n, nil
}

// PurgeAll makes every stored response unreachable in O(1) by incrementing
// the generation number; old entries expire on their own TTL. It takes
// effect at once in this process and within GenerationRefresh in others.
func (c *Cache) PurgeAll(ctx context.Context) error {
	n, err := c.c.Redis().Incr(ctx, c.genKey()).Result()
	if err != nil {
		return fmt.Errorf("httpcache: purge all: %w", err)
	}
	c.genMu.Lock()
	if n > c.gen.Load() {
		c.gen.Store(n)
	}
	c.genRead.Store(time.Now().UnixNano())
	c.genMu.Unlock()
	return nil
}

// parseTags splits a tag header into tags (comma or space separated).
func parseTags(vals []string) []string {
	var tags []string
	for _, v := range vals {
		tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return tags
}
