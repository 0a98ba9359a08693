// Package lease is the cross-process lease of memo and httpcache: at most
// one holder per key among the processes sharing a Redis, so that one of
// them does the work (a load, a handler call) while the others wait for its
// result.
//
// A lease is a string key holding its holder's random token, taken with
// SET NX PX and released with a compare-and-delete script, so a holder
// whose lease expired never deletes another holder's. A holder that dies
// leaves its lease to expire after its TTL. Release may leave a marker in
// place of the token for waiters to read (httpcache marks "the response was
// not storable: do not wait"). Waiters poll with Poll.
//
// The functions take a client and the caller's context, which bounds the
// call (the caller applies its own per-call timeout).
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/script"
)

// Scripts are the scripts of the lease, and Commands the plain commands
// it sends, for a feature's Check.
var (
	Scripts  = []*script.Script{releaseScript}
	Commands = []string{"get", "set"}
)

var (
	// releaseScript removes the lease only if it still holds the token
	// ARGV[1]; with ARGV[2] it leaves that marker for ARGV[3] ms instead.
	releaseScript = script.New(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return redis.call('DEL', KEYS[1])`)
)

// Token returns a new random token (32 hex digits).
func Token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Take tries to take the lease at key for ttl (SET NX PX) with a new token,
// which it returns when it took the lease, else "".
func Take(ctx context.Context, rdb redis.Cmdable, key string, ttl time.Duration) (string, error) {
	token := Token()
	ok, err := rdb.SetNX(ctx, key, token, max(ttl, time.Millisecond)).Result()
	if err != nil || !ok {
		return "", err
	}
	return token, nil
}

// Held returns what the lease at key holds: its holder's token, a marker
// Release left, or "" when it is free.
func Held(ctx context.Context, rdb redis.Cmdable, key string) (string, error) {
	v, err := rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// Release gives up the lease at key if it still holds token. With a
// non-empty marker the key holds marker for markerTTL instead of being
// deleted. It reports whether the lease was still held.
func Release(ctx context.Context, rdb script.Processor, key, token, marker string, markerTTL time.Duration) (bool, error) {
	args := []any{token}
	if marker != "" {
		args = append(args, marker, max(markerTTL.Milliseconds(), 1))
	}
	n, err := releaseScript.Run(ctx, rdb, []string{key}, args...).Int64()
	return n == 1, err
}

// Polling intervals of waiters: the first wait, doubled up to the last.
const (
	PollFirst = 5 * time.Millisecond
	PollMax   = 50 * time.Millisecond
)

// Poll calls try after PollFirst, then at intervals doubling up to
// PollMax, until try reports done or an error, ctx ends (its error is
// returned) or wait has passed since Poll was called (timedOut; the last
// try is at most PollMax before that).
func Poll(ctx context.Context, wait time.Duration, try func() (done bool, err error)) (timedOut bool, err error) {
	deadline := time.Now().Add(wait)
	interval := PollFirst
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return true, nil
		}
		t.Reset(min(interval, left))
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C:
		}
		interval = min(2*interval, PollMax)
		if done, err := try(); done || err != nil {
			return false, err
		}
	}
}
