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
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/report"
	"github.com/rediskit/rediskit/internal/script"
)

// MaxVariants is the most Vary variants kept for one URL: storing another
// one evicts an arbitrary older variant, so a header with unbounded values
// (say Vary: User-Agent) cannot grow one Redis hash without bound.
const MaxVariants = 64

// storeVary writes one variant into the hash at KEYS[1]: it replaces a
// non-hash value or a hash with another Vary spec, sets the variant, evicts
// other variants beyond ARGV[5], and never shortens the key's TTL. ARGV:
// spec, field, blob, ttl ms, max variants.
var storeVary = script.New(`
local t = redis.call('TYPE', KEYS[1])
if type(t) == 'table' then t = t.ok end
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
local old = redis.call('HGET', KEYS[1], 'vary')
if old and old ~= ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'vary', ARGV[1], ARGV[2], ARGV[3])
local n, limit = redis.call('HLEN', KEYS[1]), tonumber(ARGV[5]) + 1
if n > limit then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if n <= limit then break end
    if f ~= 'vary' and f ~= ARGV[2] then
      redis.call('HDEL', KEYS[1], f)
      n = n - 1
    end
  end
end
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// entryKey is the Redis key of all variants of one URL key: the slot id sits
// in a hash tag so the entry and its variants share a cluster slot.
func (c *Cache) entryKey(gen int64, slot string) string {
	return c.genPrefix(gen) + "{" + slot + "}"
}

func (c *Cache) tagKey(gen int64, tag string) string {
	return c.genPrefix(gen) + "tag:" + tag
}

// genKeys is the key prefix of one generation, "<ns>:g<gen>:".
type genKeys struct {
	gen    int64
	prefix string
}

// genPrefix returns "<ns>:g<gen>:", built once per generation (keys as
// core.MakeKey(ns, "g<gen>", ...) builds them).
func (c *Cache) genPrefix(gen int64) string {
	if p := c.keyPrefix.Load(); p != nil && p.gen == gen {
		return p.prefix
	}
	p := &genKeys{gen: gen, prefix: core.MakeKey(c.opts.Namespace, "g"+strconv.FormatInt(gen, 10), "")}
	c.keyPrefix.Store(p)
	return p.prefix
}

// entryName names an entry in error messages without its URL (a query may
// hold a token): its generation and the first 16 hex digits of the SHA-256
// of its slot id.
func entryName(gen int64, slot string) string {
	return "g" + strconv.FormatInt(gen, 10) + " entry " + sha256Hex(slot, 8)
}

// urlName names a URL in error messages without its text, like entryName:
// the first 16 hex digits of its SHA-256.
func urlName(rawURL string) string {
	return "URL " + sha256Hex(rawURL, 8)
}

// lookup reads the entry at key, entryKey(gen, slot), that matches r's
// Vary headers. A missing, expired or corrupt entry is (nil, nil); err is a
// Redis failure.
func (c *Cache) lookup(ctx context.Context, key string, gen int64, slot string, r *http.Request) (*entry, error) {
	var m uint64
	if l := c.local; l != nil {
		now := c.now().UnixNano()
		if e := l.get(key, r, now); e != nil && now <= e.responseTime+int64(c.ttlFor(e)) {
			return e, nil
		}
		m = l.mark()
	}
	start := time.Now()
	s, err := c.get(ctx, key, start)
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") { // a hash of variants
		// Like get, these reads end at their deadline (what is left of
		// Timeout since the GET began, or of the request budget), not when
		// the client goes away.
		now := time.Now()
		rctx := call.Start(ctx, now, c.opts.Timeout-now.Sub(start), c.wait)
		defer rctx.End()
		rdb := c.c.Redis()
		var spec string
		if spec, err = rdb.HGet(rctx, key, "vary").Result(); err == nil {
			s, err = rdb.HGet(rctx, key, "v:"+variantID(spec, r.Header)).Result()
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: lookup %s: %w", entryName(gen, slot), err)
	}
	e, err := decodeEntry(s)
	if err != nil {
		c.reportError(report.WithRequest(ctx, r), fmt.Errorf("httpcache: lookup %s: %w", entryName(gen, slot), err))
		return nil, nil
	}
	if e.vary != "" {
		if c.now().UnixNano() > e.responseTime+int64(c.ttlFor(e)) {
			return nil, nil // a variant past its own retention in a longer-lived hash
		}
		e.variant = variantID(e.vary, r.Header)
	}
	if c.local != nil {
		c.local.put(key, m, e, e.responseTime+int64(c.ttlFor(e)))
	}
	return e, nil
}

// ttlFor is an entry's Redis TTL: remaining freshness plus the longest stale
// window, capped by MaxTTL.
func (c *Cache) ttlFor(e *entry) time.Duration {
	fresh := max(e.lifetime-e.initialAge, 0)
	return min(fresh+max(e.swr, e.sie, c.opts.Storage.StaleRetention), c.opts.Storage.MaxTTL)
}

// put stores e under slot for the request headers reqH (which select the
// variant), after adding the key to its tag sets, so a stored entry is
// always reachable by PurgeTag, then announces it (publish). A failed
// announcement is reported, not returned: the entry is stored.
func (c *Cache) put(ctx context.Context, gen int64, slot string, e *entry, reqH http.Header, tags []string) error {
	ttl := c.ttlFor(e)
	if ttl < time.Millisecond {
		return nil
	}
	key := c.entryKey(gen, slot)
	rctx, cancel := c.callCtx(ctx)
	defer cancel()
	rdb := c.c.Redis()
	if err := c.addTags(rctx, rdb, gen, key, tags, ttl); err != nil {
		return fmt.Errorf("httpcache: store tags of %s: %w", entryName(gen, slot), err)
	}
	blob := e.encode()
	var err error
	if e.vary == "" {
		err = rdb.Set(rctx, key, blob, ttl).Err()
	} else {
		field := "v:" + variantID(e.vary, reqH)
		err = storeVary.Run(rctx, rdb, []string{key}, e.vary, field, blob, ttl.Milliseconds(), MaxVariants).Err()
	}
	if err != nil {
		return fmt.Errorf("httpcache: store %s: %w", entryName(gen, slot), err)
	}
	if err := c.publish(ctx, key); err != nil {
		c.reportError(ctx, err) // stored all the same: the response is not lost
	}
	return nil
}

// remove deletes every variant stored under the given slot ids.
func (c *Cache) remove(ctx context.Context, slots ...string) (int64, error) {
	gen, err := c.generation(ctx)
	if err != nil {
		return 0, err
	}
	rctx, cancel := c.callCtx(ctx)
	defer cancel()
	var n int64
	keys := make([]string, 0, len(slots))
	for _, s := range slots {
		key := c.entryKey(gen, s)
		d, err := c.c.Redis().Unlink(rctx, key).Result()
		if err != nil {
			return n, errors.Join(fmt.Errorf("httpcache: purge: %w", err), c.publish(ctx, keys...))
		}
		n += d
		keys = append(keys, key)
	}
	return n, c.publish(ctx, keys...)
}

// Purge removes the stored responses (every variant) for rawURL, an absolute
// URL keyed like a request for it: host mapping, Options.Scheme, ignored and
// sorted query parameters apply. It reports whether anything was removed.
func (c *Cache) Purge(ctx context.Context, rawURL string) (bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false, fmt.Errorf("httpcache: purge %s: need an absolute URL", urlName(rawURL))
	}
	scheme := strings.ToLower(u.Scheme)
	host, ok := c.keyHost(u.Host, scheme)
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrHostNotAllowed, u.Host)
	}
	n, err := c.remove(ctx, c.slotID(c.urlKey(c.keyScheme(scheme), host, u)))
	if err == nil {
		c.stats.purged.Add(n)
	}
	return n > 0, err
}
