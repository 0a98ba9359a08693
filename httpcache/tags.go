package httpcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/script"
)

// addTag records member (an entry key) in the tag's sorted set at KEYS[1],
// scored by the member's expiry in the server's milliseconds (a score never
// decreases), drops members that expired, and keeps the set alive as long as
// its longest-lived member. A value of another type is replaced. Only
// commands of Redis 5 and later are used. ARGV: member, ttl ms.
var addTag = script.New(`
local t = redis.call('TYPE', KEYS[1])
if type(t) == 'table' then t = t.ok end
if t ~= 'zset' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[2])
-- Scores are passed as integer strings: some Lua engines (miniredis') would
-- format a large number in exponent notation.
local exp = string.format('%.0f', now + ttl)
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not old or tonumber(old) < now + ttl then redis.call('ZADD', KEYS[1], exp, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// addTags adds the entry key to the sets of its tags, in one pipeline.
func (c *Cache) addTags(ctx context.Context, rdb redis.UniversalClient, gen int64, key string, tags []string, ttl time.Duration) error {
	if len(tags) == 0 {
		return nil
	}
	send := func(eval bool) error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, t := range tags {
				keys := []string{c.tagKey(gen, t)}
				if eval {
					p.Eval(ctx, addTag.Source(), keys, key, ttl.Milliseconds())
				} else {
					p.EvalSha(ctx, addTag.Hash(), keys, key, ttl.Milliseconds())
				}
			}
			return nil
		})
		return err
	}
	err := send(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = send(true) // the script was not loaded yet (or was flushed)
	}
	return err
}

// PurgeTag removes every stored response that listed tag in its tag header
// and returns how many URL keys were removed. Its cost is proportional to
// the number of live entries under the tag (expired ones are dropped from
// the tag whenever an entry is added to it), not to the size of the cache.
// It removes from the tag set only the members it removed (Redis deletes
// the set once empty), so an entry tagged while it runs stays reachable by
// a later PurgeTag.
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
		next, d, err := c.purgeTagPage(ctx, rdb, tk, cursor)
		n += d
		if err != nil {
			c.stats.purged.Add(n)
			return n, fmt.Errorf("httpcache: purge tag %q: %w", tag, err)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	c.stats.purged.Add(n)
	return n, nil
}

// purgeTagPage reads one ZSCAN page of the tag set tk at cursor and purges
// its members, each Redis call bounded by Timeout.
func (c *Cache) purgeTagPage(ctx context.Context, rdb redis.UniversalClient, tk string, cursor uint64) (next uint64, n int64, err error) {
	rctx, cancel := call.Context(ctx, c.opts.Timeout, c.wait)
	pairs, next, err := rdb.ZScan(rctx, tk, cursor, "", 500).Result()
	cancel()
	if err != nil {
		return 0, 0, err
	}
	rctx, cancel = call.Context(ctx, c.opts.Timeout, c.wait)
	defer cancel()
	n, err = c.purgeTagMembers(rctx, rdb, tk, pairs)
	return next, n, err
}

// purgeMembers unlinks the entry keys of one ZSCAN page (member, score
// pairs), then removes them from the tag set tk; it returns how many
// entries were removed. A member stays in the set when unlinking failed.
func purgeMembers(ctx context.Context, rdb redis.UniversalClient, tk string, pairs []string) (int64, error) {
	if len(pairs) == 0 {
		return 0, nil
	}
	members := make([]any, 0, len(pairs)/2)
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i+1 < len(pairs); i += 2 { // member, score
			p.Unlink(ctx, pairs[i])
			members = append(members, pairs[i])
		}
		return nil
	})
	var n int64
	for _, cmd := range cmds {
		n += cmd.(*redis.IntCmd).Val()
	}
	if err != nil {
		return n, err
	}
	return n, rdb.ZRem(ctx, tk, members...).Err()
}

// purgeTagMembers is purgeMembers announcing the removed entries.
func (c *Cache) purgeTagMembers(ctx context.Context, rdb redis.UniversalClient, tk string, pairs []string) (int64, error) {
	n, err := purgeMembers(ctx, rdb, tk, pairs)
	keys := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		keys = append(keys, pairs[i])
	}
	return n, errors.Join(err, c.publish(ctx, keys...))
}

// parseTags splits a tag header into tags (comma or space separated).
func parseTags(vals []string) []string {
	var tags []string
	for _, v := range vals {
		tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return tags
}
