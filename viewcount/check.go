package viewcount

import (
	"context"
	"fmt"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/script"
)

// plainCommands are the commands a Counter sends outside its scripts:
// RecordBot's INCRBY, the reads of Counts and Top, and SCRIPT LOAD after a
// server lost the scripts.
var plainCommands = []string{"incrby", "get", "mget", "pfcount", "zrevrange", "script"}

// Check runs, once, every Redis command the Counter uses (each command its
// scripts call, EVAL and EVALSHA, its plain commands, and SCRIPT LOAD of
// every script) on probe keys "<Namespace>:check:{…}:<command>", which it
// deletes again (they also expire within seconds). No real item, total or
// ranking is touched. Call it at start-up: a missing ACL permission or an
// unreachable server is then reported at once as "viewcount: check: …"
// wrapping Redis' error, which for a missing permission is a NOPERM error
// naming the command.
func (c *Counter) Check(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("viewcount: check: %w", core.ErrNilContext)
	}
	cmds := plainCommands
	if c.waitArgs != nil {
		cmds = append(cmds[:len(cmds):len(cmds)], "wait")
	}
	if err := script.Probe(ctx, c.rdb, c.keys.ns, allScripts, cmds...); err != nil {
		return fmt.Errorf("viewcount: check: %w", err)
	}
	return nil
}
