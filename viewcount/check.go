package viewcount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// Check runs, once, every Redis command the Counter uses (SCRIPT LOAD, each
// script through EVALSHA with the commands inside it, and the reads of Stats
// and Top) on probe keys under its Namespace, which it deletes again (they
// also expire within seconds). No real item, total or ranking is touched.
// Call it at start-up: a missing ACL permission or an unreachable server is
// then reported at once as "viewcount: check: …" wrapping Redis' error, which
// for a missing permission is a NOPERM error naming the command.
func (c *Counter) Check(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ik := c.keys.item("rediskit-check-" + id)
	top := core.MakeKey(c.keys.ns, "{top}", "check", id)
	itemKeys := []string{ik.seen("probe"), ik.total(), ik.unique(), ik.day("probe"), ik.bots(), ik.marker(id)}
	topKeys := []string{top + ":seen", top + ":rank", top + ":flush"}
	err := c.checkScripts(ctx, itemKeys, topKeys)
	if err == nil {
		err = c.checkReads(ctx, ik, topKeys[1])
	}
	derr := c.rdb.Del(ctx, itemKeys...).Err()
	if derr == nil {
		derr = c.rdb.Del(ctx, topKeys...).Err()
	}
	if err = errors.Join(err, derr); err != nil {
		return fmt.Errorf("viewcount: check: %w", err)
	}
	return nil
}

func (c *Counter) checkScripts(ctx context.Context, ik, top []string) error {
	// The scripts' own commands, one by one (an error inside a script does
	// not name the command it refused), and RecordBot's INCRBY.
	for _, args := range [][]any{
		{"set", ik[0], "1", "nx", "px", 1000}, {"incrby", ik[1], 1}, {"pfadd", ik[2], "probe"},
		{"expire", ik[1], 10}, {"zincrby", top[1], 1, "probe"}, {"expire", top[1], 10}, {"incrby", ik[4], 1},
	} {
		if err := c.rdb.Do(ctx, args...).Err(); err != nil {
			return err
		}
	}
	for _, s := range allScripts {
		if err := s.Load(ctx, c.rdb).Err(); err != nil {
			return err
		}
	}
	const win, ttl = "1000", 10
	calls := [][]*scriptCall{
		{{script: directScript, keys: ik[:4], args: []any{win, "probe", ttl, "probe"}}},
		{{script: rankScript, keys: top[:2], args: []any{win, "probe", ttl}}},
		{{script: flushItemsScript, keys: []string{ik[5], ik[1], ik[2], ik[3], ik[4], ik[0]},
			args: []any{win, ttl, ttl, 1, 1, "probe", 1}}},
		{{script: flushRankScript, keys: []string{top[2], top[1]}, args: []any{ttl, ttl, 1, "probe", 1}}},
	}
	for _, cs := range calls {
		if _, err := runScripts(ctx, c.rdb, cs); err != nil {
			return err
		}
	}
	return nil
}

func (c *Counter) checkReads(ctx context.Context, ik itemKeys, rank string) error {
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, ik.total())
		p.PFCount(ctx, ik.unique())
		p.MGet(ctx, ik.day("probe"), ik.day("probe2"))
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if err == nil {
		err = c.rdb.ZRevRangeWithScores(ctx, rank, 0, 0).Err()
	}
	return err
}
