package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
)

// gcra is a smooth rate limiter: the generic cell rate algorithm of
// github.com/go-redis/redis_rate/v10, with the same state in Redis, decided
// by gcraScript over batches of concurrent decisions (scriptBatcher), keys
// under the same namespace as the other limiters
// (namespace:gcra:{id}:policy:periodms).
type gcra struct {
	opts    Options
	deny    *denyCache
	exec    *executor
	scripts *scriptBatcher
	keys    keyShape // namespace:gcra:{id}:policy:periodms
}

// NewGCRA returns a smooth rate limiter over c: opts.Limit units per
// opts.Window, with bursts of up to opts.Burst (default Limit), the
// generic cell rate algorithm of github.com/go-redis/redis_rate/v10 (whose
// keys it reads and writes alike) with this package's keys and timeouts.
// Its Results report Limit = Burst, the most units available at once,
// which Remaining counts against; Window is the rate's period. Policies
// must be zero.
func NewGCRA(c *core.Client, opts Options) (*RedisLimiter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if err := opts.fillSingle(true); err != nil {
		return nil, err
	}
	head := []any{opts.Burst, opts.Limit, opts.Window.Seconds()}
	wait := waitOf(c)
	g := &gcra{
		opts: opts,
		deny: newDenyCache(opts.DenyCacheSize),
		exec: newExecutor(c, opts.Timeout, wait),
		scripts: newScriptBatcher(c.Redis(), opts.Timeout, wait, gcraScript, head, 2, 4,
			gcraReply(opts.Burst, opts.Limit, opts.Window.Seconds())),
		keys: newKeyShape(opts.Namespace, "gcra", false, opts.Policy, durationMS(opts.Window)),
	}
	return newRedisLimiter(c, &opts, g), nil
}

// gcraReply returns the function that derives, from the reply of a
// gcraScript entry (admitted, the theoretical arrival time before it in ns
// after now), the reply of its decision of cost n at position pos, with
// redis_rate's arithmetic: allowed (the cost, 0 when denied), remaining
// units, retry-after in µs (-1 when allowed) and reset-after in µs.
// remainingSlack absorbs the float error of the remaining-units division
// before it is truncated (with burst 5 and 1 unit left, 0.2/0.2 can come
// out as 0.9999999999999998).
const remainingSlack = 1e-6

func gcraReply(burst, rate int, period float64) func(entry []int64, n, pos int, out []int64) {
	emission := period / float64(rate)
	burstOffset := emission * float64(burst)
	return func(entry []int64, n, pos int, out []int64) {
		admitted, before := entry[0], float64(entry[1])/1e9
		step := emission * float64(n)
		if int64(pos) < admitted {
			after := before + step*float64(pos+1)
			// remainingSlack: a whole unit left must not read as 0.99999…
			out[0], out[1], out[2], out[3] = int64(n), int64((burstOffset-after)/emission+remainingSlack), -1, int64(after*1e6)
			return
		}
		tat := before + step*float64(admitted) // after the admitted decisions
		out[0], out[1], out[2], out[3] = 0, 0, int64((tat+step-burstOffset)*1e6), int64(tat*1e6)
	}
}

func (g *gcra) key(key string) (tag, rkey string, err error) {
	rkey, tag, err = g.keys.keyOf(key, false, 0)
	return tag, rkey, err
}

// decide runs one GCRA step of cost n (0: a Peek) on key.
func (g *gcra) decide(ctx context.Context, tag, rkey string, n int) (Result, error) {
	out, err := g.scripts.decideOne(ctx, tag, rkey, 0, false, n)
	if err != nil {
		return Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Window}, err
	}
	res := Result{Allowed: out[0] > 0, Limit: g.opts.Burst, Remaining: int(max(0, out[1])),
		ResetAfter: max(0, time.Duration(out[3])*time.Microsecond), Policy: g.opts.Policy, Window: g.opts.Window}
	if !res.Allowed {
		res.RetryAfter = max(time.Millisecond, time.Duration(out[2])*time.Microsecond)
	}
	return res, nil
}

func (g *gcra) allowN(ctx context.Context, key string, n int) (Result, error) {
	res := Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Window}
	if n < 1 || n > g.opts.Burst {
		return res, fmt.Errorf("%w: cost %d outside [1, %d]", ErrInvalidCost, n, g.opts.Burst)
	}
	tag, rkey, err := g.key(key)
	if err != nil {
		return res, err
	}
	if d, _ := g.deny.until(rkey, g.opts.Now); d > 0 {
		res.RetryAfter, res.ResetAfter, res.Local = d, d, true
		return res, nil
	}
	if res, err = g.decide(ctx, tag, rkey, n); err != nil {
		return res, err
	}
	if !res.Allowed && n == 1 {
		g.deny.deny(rkey, g.opts.Now(), res.RetryAfter, 0)
	}
	return res, nil
}

// peek is a zero-cost GCRA step.
func (g *gcra) peek(ctx context.Context, key string) (Result, error) {
	tag, rkey, err := g.key(key)
	if err != nil {
		return Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Window}, err
	}
	res, err := g.decide(ctx, tag, rkey, 0)
	if err != nil {
		return res, err
	}
	res.Allowed = res.Remaining >= 1
	res.RetryAfter = 0
	if !res.Allowed {
		// One unit frees when the theoretical arrival time is within
		// Burst-1 emission intervals of now.
		emission := g.opts.Window / time.Duration(g.opts.Limit)
		res.RetryAfter = max(time.Millisecond, res.ResetAfter-emission*time.Duration(g.opts.Burst-1))
	}
	return res, nil
}

func (g *gcra) reset(ctx context.Context, key string) error {
	_, rkey, err := g.key(key)
	if err != nil {
		return err
	}
	g.deny.forget(rkey)
	return g.exec.do(ctx, redis.NewIntCmd(ctx, "del", rkey))
}
