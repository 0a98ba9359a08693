package memo

import (
	"context"
	"fmt"
	"slices"

	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/lease"
	"github.com/rediskit/rediskit/internal/script"
)

// scripts are the Lua scripts a Func runs, the generation number's
// included; plainCommands the commands it sends itself: GET (reads), SET
// (Forget's tombstone, and SET NX for the lease). Check derives its probes
// from both.
var (
	scripts       = slices.Concat([]*script.Script{writeScript}, lease.Scripts, generation.Scripts)
	plainCommands = []string{"get", "set"}
)

// Check runs, once, every Redis command the Func uses: the plain ones
// (GET, SET), those its scripts and the generation number's scripts call
// (internal/generation.Scripts), EVAL and EVALSHA (internal/script's Probe
// derives the list from the scripts themselves), on probe keys under the
// Func's namespace and name, which it deletes again (they also expire
// within seconds). No real entry, lease or generation is touched. Call it at
// start-up: a missing ACL permission or an unreachable server is then
// reported at once as "memo: check: …" wrapping Redis' error, which for a
// missing permission is a NOPERM error naming the command.
func (f *Func[K, V]) Check(ctx context.Context) error {
	if ctx == nil {
		return errNilContext("check")
	}
	prefix := f.base[:len(f.base)-1] // "<ns>:<name>"
	if err := script.Probe(ctx, f.rdb, prefix, scripts, plainCommands...); err != nil {
		return fmt.Errorf("memo: check: %w", err)
	}
	return nil
}
