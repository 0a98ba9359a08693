package httpcache

import (
	"context"
	"fmt"
	"slices"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/lease"
	"github.com/rediskit/rediskit/internal/script"
)

// scripts are the Lua scripts the cache runs: its Vary and tag scripts, the
// lease's and the generation number's.
var scripts = slices.Concat([]*script.Script{storeVary, addTag}, lease.Scripts, generation.Scripts)

// plainCommands are the commands the cache sends outside its scripts:
// lookup (GET, HGET), store (SET), Purge and invalidation (UNLINK), PurgeTag
// (ZSCAN, UNLINK, ZREM), the lease (GET, SET NX), invalidation messages
// (PUBLISH).
var plainCommands = []string{"get", "hget", "set", "unlink", "zscan", "zrem", "publish"}

// Check runs, once, every Redis command the cache uses: the commands its
// Vary and tag scripts and the generation number's scripts call
// (internal/generation.Scripts), EVAL and EVALSHA, and the plain commands of
// lookups, stores and purges, on probe keys under Namespace, which it
// deletes again (they also expire within seconds). The list is derived from
// the scripts themselves, so it cannot miss a command a script gains. No
// stored response and no generation number is touched. Call it at start-up:
// a missing ACL permission or an unreachable server is then reported at once
// as "httpcache: check: …" wrapping Redis' error, which for a missing
// permission is a NOPERM error naming the command. (While serving, the
// cache fails open instead: see the package doc.)
func (c *Cache) Check(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("httpcache: check: %w", core.ErrNilContext)
	}
	if err := script.Probe(ctx, c.c.Redis(), c.opts.Namespace, scripts, plainCommands...); err != nil {
		return fmt.Errorf("httpcache: check: %w", err)
	}
	return nil
}
