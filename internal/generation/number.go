package generation

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/script"
)

// genInit defines now(): the server clock (TIME) in Unix milliseconds, so
// that every process creating a generation agrees on the clock. Both
// scripts touch one key, so they run on a cluster too.
const genInit = `local function now()
  local t = redis.call('TIME')
  return string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
`

var (
	// readScript returns the generation at KEYS[1], creating it when
	// missing.
	readScript = script.New(genInit + `local g = redis.call('GET', KEYS[1])
if g then return g end
g = now()
redis.call('SET', KEYS[1], g)
return g`)
	// bumpScript is INCR on a generation created like readScript's when
	// missing.
	bumpScript = script.New(genInit + `if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], now())
end
return redis.call('INCR', KEYS[1])`)
)

// Scripts are the Lua scripts Read and Bump run (their commands: EXISTS,
// GET, INCR, SET, TIME). A feature storing a generation adds them to the
// scripts its start-up check passes to script.Probe. The caller must not
// modify the slice.
var Scripts = []*script.Script{readScript, bumpScript}

// Read returns the generation number stored at key. A generation number is
// an integer that a feature puts into every key it stores (memo's entries,
// httpcache's responses), so that one Bump makes all of them unreachable
// in O(1). Its contract is that a number once used never comes back: a
// missing key (evicted, lost in a failover, deleted) is created from the
// Redis server's clock in Unix milliseconds (TIME inside the script, so
// every process agrees), which is above every number used before as long
// as the key was bumped fewer times than milliseconds passed since it was
// created. One round trip; the key gets no TTL. A value that is not an
// integer is a *core.DecodeError (core.ErrDecode); errors are wrapped
// "generation: read …" (a nil ctx matches core.ErrNilContext, an invalid
// key core.ErrInvalidKey, a closed client core.ErrClosed).
func Read(ctx context.Context, c *core.Client, key string) (int64, error) {
	if err := checkCall(ctx, "read", key); err != nil {
		return 0, err
	}
	s, err := readScript.Run(ctx, c.Redis(), []string{key}).Text()
	if err != nil {
		return 0, wrap("read", key, err)
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, wrap("read", key, &core.DecodeError{Key: key, Target: "int64", Err: err})
	}
	return g, nil
}

// Bump increments the generation number at key and returns the new
// number; a missing key is first created like Read does, so the result is
// higher than every number used before. One round trip. Errors (a value
// that is not an integer included) are wrapped "generation: bump …", with
// the same sentinels as Read's.
func Bump(ctx context.Context, c *core.Client, key string) (int64, error) {
	if err := checkCall(ctx, "bump", key); err != nil {
		return 0, err
	}
	g, err := bumpScript.Run(ctx, c.Redis(), []string{key}).Int64()
	if err != nil {
		return 0, wrap("bump", key, err)
	}
	return g, nil
}

// checkCall validates a call's context and key as core does: a key must
// be non-empty, not start with ":" (an empty service) and be at most
// core.MaxKeyBytes long.
func checkCall(ctx context.Context, op, key string) error {
	switch {
	case ctx == nil:
		return fmt.Errorf("generation: %s: %w", op, core.ErrNilContext)
	case key == "":
		return fmt.Errorf("generation: %s: %w: empty key", op, core.ErrInvalidKey)
	case key[0] == ':':
		return fmt.Errorf("generation: %s %q: %w: empty service (the key starts with \":\")", op, key, core.ErrInvalidKey)
	case len(key) > core.MaxKeyBytes:
		return fmt.Errorf("generation: %s: %w: key of %d bytes exceeds %d", op, core.ErrInvalidKey, len(key), core.MaxKeyBytes)
	}
	return nil
}

// wrap adds the prefix, operation and key to an error, mapping
// redis.ErrClosed (a closed core.Client's pool) to core.ErrClosed.
func wrap(op, key string, err error) error {
	if errors.Is(err, redis.ErrClosed) {
		err = core.ErrClosed
	}
	return fmt.Errorf("generation: %s %q: %w", op, key, err)
}
