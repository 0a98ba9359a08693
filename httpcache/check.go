package httpcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/script"
)

// scripts are the Lua scripts the cache runs.
var scripts = []*script.Script{storeVary, addTag}

// plainCommands are the commands the cache sends outside its scripts:
// lookup (GET, HGET), store (SET), Purge and invalidation (UNLINK), PurgeTag
// (ZSCAN, UNLINK, ZREM).
var plainCommands = []string{"get", "hget", "set", "unlink", "zscan", "zrem"}

// Check runs, once, every Redis command the cache uses: the commands its
// Vary and tag scripts call, EVAL and EVALSHA, the plain commands of
// lookups, stores and purges, and those of the generation number (see
// core.Client.CheckGeneration), on probe keys under Namespace, which it
// deletes again (they also expire within seconds). The list is derived from
// the scripts themselves, so it cannot miss a command a script gains. No
// stored response and no generation number is touched. Call it at start-up:
// a missing ACL permission or an unreachable server is then reported at once
// as "httpcache: check: …" wrapping Redis' error, which for a missing
// permission is a NOPERM error naming the command. (While serving, the
// cache fails open instead: see the package doc.)
func (c *Cache) Check(ctx context.Context) error {
	rdb := c.c.Redis()
	err := script.Probe(ctx, rdb, c.opts.Namespace, scripts, plainCommands...)
	if err == nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		gen := core.MakeKey(c.opts.Namespace, "check", "{"+hex.EncodeToString(b[:])+"}", "gen")
		err = errors.Join(c.c.CheckGeneration(ctx, gen), rdb.Unlink(context.WithoutCancel(ctx), gen).Err())
	}
	if err != nil {
		return fmt.Errorf("httpcache: check: %w", err)
	}
	return nil
}
