package memo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/rediskit/rediskit/internal/script"
)

// scripts are the Lua scripts a Func runs; plainCommands the commands it
// sends itself: GET (reads), SET (Forget's tombstone, and SET NX for the
// lease). Check derives its probes from both.
var (
	scripts       = []*script.Script{writeScript, releaseScript}
	plainCommands = []string{"get", "set"}
)

// Check runs, once, every Redis command the Func uses: the plain ones
// (GET, SET), those its scripts call, EVAL and EVALSHA (internal/script's
// Probe derives the list from the scripts themselves), and the generation's
// (core.Client.CheckGeneration), on probe keys under the Func's namespace
// and name, which it deletes again (they also expire within seconds). No
// real entry, lease or generation is touched. Call it at start-up: a missing
// ACL permission or an unreachable server is then reported at once as
// "memo: check: …" wrapping Redis' error, which for a missing permission is
// a NOPERM error naming the command.
func (f *Func[K, V]) Check(ctx context.Context) error {
	if ctx == nil {
		return errNilContext("check")
	}
	prefix := f.base[:len(f.base)-1] // "<ns>:<name>"
	err := script.Probe(ctx, f.rdb, prefix, scripts, plainCommands...)
	if err == nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		gen := prefix + ":check:{" + hex.EncodeToString(b[:]) + "}:gen"
		err = f.c.CheckGeneration(ctx, gen)
		err = errors.Join(err, f.rdb.Del(context.WithoutCancel(ctx), gen).Err())
	}
	if err != nil {
		return fmt.Errorf("memo: check: %w", err)
	}
	return nil
}
