package httpcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// Check runs, once, every Redis command the cache uses (GET, HGET, SET,
// HSET, HLEN, HKEYS, HDEL, TYPE, PTTL, PEXPIRE, DEL, TIME, ZADD, ZSCORE,
// ZREMRANGEBYSCORE, ZSCAN, ZREM, UNLINK, EXISTS, INCR, and the Vary, tag
// and generation scripts through EVAL and EVALSHA) on probe keys under its
// Namespace,
// which it deletes again (they also expire within seconds). No stored
// response and no generation number is touched. Call it at start-up: a
// missing ACL permission or an unreachable server is then reported at once
// as "httpcache: check: …" wrapping Redis' error, which for a missing
// permission is a NOPERM error naming the command. (While serving, the
// cache fails open instead: see the package doc.)
func (c *Cache) Check(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	base := core.MakeKey(c.opts.Namespace, "check", "{"+hex.EncodeToString(b[:])+"}")
	entry, tag, gen := base, base+":tag", base+":gen"
	rdb := c.c.Redis()
	steps := []func() error{
		func() error { return rdb.Set(ctx, entry, "probe", 10e9).Err() },
		func() error { return rdb.Get(ctx, entry).Err() },
		func() error { return rdb.Unlink(ctx, entry).Err() },
		// The Vary script's own commands, one by one: an error inside a
		// script does not name the command it refused.
		func() error { return rdb.HSet(ctx, entry, "vary", "probe").Err() },
		func() error { return rdb.Type(ctx, entry).Err() },
		func() error { return rdb.PTTL(ctx, entry).Err() },
		func() error { return rdb.PExpire(ctx, entry, 10e9).Err() },
		func() error { return rdb.Del(ctx, entry).Err() },
		func() error {
			return storeVary.Eval(ctx, rdb, []string{entry}, "Accept", "v:probe", "probe", 10_000, MaxVariants).Err()
		},
		func() error {
			return storeVary.EvalSha(ctx, rdb, []string{entry}, "Accept", "v:probe", "probe", 10_000, MaxVariants).Err()
		},
		func() error { return rdb.HGet(ctx, entry, "vary").Err() },
		func() error { return rdb.HLen(ctx, entry).Err() },
		func() error { return rdb.HKeys(ctx, entry).Err() },
		func() error { return rdb.HDel(ctx, entry, "v:probe").Err() },
		// The tag script's commands, then the script.
		func() error { return rdb.Time(ctx).Err() },
		func() error { return rdb.ZAdd(ctx, tag, redis.Z{Score: 1, Member: entry}).Err() },
		func() error { return rdb.ZScore(ctx, tag, entry).Err() },
		func() error { return rdb.ZRemRangeByScore(ctx, tag, "-inf", "0").Err() },
		func() error { return addTag.Eval(ctx, rdb, []string{tag}, entry, 10_000).Err() },
		func() error { return addTag.EvalSha(ctx, rdb, []string{tag}, entry, 10_000).Err() },
		func() error { return rdb.ZScan(ctx, tag, 0, "", 10).Err() },
		func() error { return rdb.ZRem(ctx, tag, entry).Err() },
		// The generation scripts' commands, then the scripts.
		func() error { return c.c.CheckGeneration(ctx, gen) },
	}
	var err error
	for _, step := range steps {
		if err = step(); err != nil {
			break
		}
	}
	err = errors.Join(err, rdb.Unlink(ctx, entry, tag, gen).Err())
	if err != nil {
		return fmt.Errorf("httpcache: check: %w", err)
	}
	return nil
}
