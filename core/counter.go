package core

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/window"
)

// Increment adds amount to the integer stored at key (a missing key counts
// as 0) and returns the new value, like the Python increment. A key holding
// something other than an integer is an error.
func (c *Client) Increment(ctx context.Context, key string, amount int64) (int64, error) {
	if err := c.check(ctx, "increment"); err != nil {
		return 0, err
	}
	if err := checkKey("increment", key); err != nil {
		return 0, err
	}
	n, err := c.rdb.IncrBy(ctx, key, amount).Result()
	return n, wrap("increment", key, err)
}

// Decrement subtracts amount from the integer stored at key and returns the
// new value.
func (c *Client) Decrement(ctx context.Context, key string, amount int64) (int64, error) {
	if err := c.check(ctx, "decrement"); err != nil {
		return 0, err
	}
	if err := checkKey("decrement", key); err != nil {
		return 0, err
	}
	n, err := c.rdb.DecrBy(ctx, key, amount).Result()
	return n, wrap("decrement", key, err)
}

// WindowCount is the state of a windowed counter after an increment.
type WindowCount struct {
	Count int64         // the counter's value after the increment
	TTL   time.Duration // time left until the counter expires
}

// IncrementWindow atomically adds amount to the counter at key and makes
// sure it expires: the first increment of a window sets the TTL to window;
// later ones leave it alone. A counter left without a TTL (written by someone
// else) gets one. One round trip: MULTI{INCRBY; PEXPIRE NX; PTTL} on Redis 7+,
// a Lua script on older servers (the Client switches for good the first time
// the server refuses PEXPIRE NX, which changes nothing). So the counter can
// never be left without its TTL, the bug of the INCR-then-EXPIRE pattern. The
// INCRBY is sent at most once: go-redis does not resend it after a network
// error, so an increment is never counted twice.
func (c *Client) IncrementWindow(ctx context.Context, key string, amount int64, window time.Duration) (WindowCount, error) {
	if err := c.check(ctx, "increment window"); err != nil {
		return WindowCount{}, err
	}
	if err := checkKey("increment window", key); err != nil {
		return WindowCount{}, err
	}
	if window <= 0 {
		return WindowCount{}, fmt.Errorf("core: increment window %q: %w: window must be positive, got %v", key, ErrInvalidTTL, window)
	}
	if c.ttlMode.Load() != ttlModeLua {
		wc, unsupported, err := c.incrementWindowMulti(ctx, key, amount, window)
		if !unsupported {
			return wc, wrap("increment window", key, err)
		}
		c.ttlMode.Store(ttlModeLua)
	}
	res, err := incrementWindowScript.Run(ctx, c.rdb, []string{key}, amount, redisTTL(window).Milliseconds()).Int64Slice()
	if err != nil {
		return WindowCount{}, wrap("increment window", key, err)
	}
	return WindowCount{Count: res[0], TTL: time.Duration(res[1]) * time.Millisecond}, nil
}

// ttlModeLua marks a Client whose server refused PEXPIRE … NX (before Redis
// 7): IncrementWindow runs incrementWindowScript. The zero mode tries MULTI.
const ttlModeLua int32 = 2

// incrementWindowMulti is the Redis 7+ form of IncrementWindow. unsupported
// reports a server that refused PEXPIRE NX: the transaction was discarded.
func (c *Client) incrementWindowMulti(ctx context.Context, key string, amount int64, span time.Duration) (wc WindowCount, unsupported bool, err error) {
	var incr *redis.IntCmd
	var expire *redis.Cmd
	var pttl *redis.DurationCmd
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr, expire = window.Queue(ctx, p, key, amount, span)
		pttl = p.PTTL(ctx, key)
		return nil
	})
	if err != nil {
		return WindowCount{}, window.NXUnsupported(expire.Err()), err
	}
	return WindowCount{Count: incr.Val(), TTL: pttl.Val()}, false, nil
}

// incrementWindowScript is the pre-Redis-7 form of the windowed counter.
var incrementWindowScript = redis.NewScript(`
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}
`)
