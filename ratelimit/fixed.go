package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/call"
)

// fixedWindow is the fixed-window counter: at most Limit units per window
// per key, windows aligned to multiples of Window since the Unix epoch.
//
// A decision is one round trip, shared with the limiter's concurrent
// decisions. On a standalone Redis 7+, Allow rides a transaction
// MULTI{INCRBY; PEXPIRE NX} (txBatcher); AllowN with n > 1, clusters and
// older servers ride one call of a Lua script that increments only when the
// cost fits (scriptBatcher). Either way the count and its TTL change
// atomically, so no counter lives without a TTL.
type fixedWindow struct {
	opts    Options
	exec    *executor
	batch   *txBatcher // nil on a cluster or a non-standard client
	scripts *scriptBatcher
	deny    *denyCache
	keys    keyShape // namespace:fw:{id}:policy:windowms:window
}

// NewFixedWindow returns a fixed-window limiter over c: at most
// opts.Limit units per opts.Window per key, windows aligned to multiples of
// Window since the Unix epoch. Exact: with limit L, exactly L units pass
// per window however many requests arrive at once, from however many
// processes. It checks opts (see Options for the defaults; Burst and
// Policies must be zero) and does not dial Redis.
func NewFixedWindow(c *core.Client, opts Options) (*RedisLimiter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if err := opts.fillSingle(false); err != nil {
		return nil, err
	}
	wait := waitOf(c)
	f := &fixedWindow{opts: opts, exec: newExecutor(c, opts.Timeout, wait), deny: newDenyCache(opts.DenyCacheSize),
		scripts: newCounterBatcher(c.Redis(), opts.Timeout, wait, []int{opts.Limit}),
		keys:    newKeyShape(opts.Namespace, "fw", true, opts.Policy, durationMS(opts.Window))}
	if _, ok := c.Redis().(*redis.Client); ok {
		f.batch = newTxBatcher(c.Redis(), opts.Timeout, wait)
	}
	return newRedisLimiter(c, &opts, f), nil
}

// window returns the Redis key, the time left in the current window and
// the counter's TTL (the rest of the window plus a grace of up to a second
// for late requests and clock skew).
func (f *fixedWindow) window(key string) (tag, rkey string, left, ttl time.Duration, err error) {
	now := f.opts.Now().UnixNano()
	w := now / int64(f.opts.Window)
	if rkey, tag, err = f.keys.keyOf(key, true, w); err != nil {
		return "", "", 0, 0, err
	}
	left = time.Duration((w+1)*int64(f.opts.Window) - now)
	ttl = left + min(f.opts.Window, time.Second)
	return tag, rkey, left, ttl, nil
}

func (f *fixedWindow) allowN(ctx context.Context, key string, n int) (Result, error) {
	res := Result{Limit: f.opts.Limit, Policy: f.opts.Policy, Window: f.opts.Window}
	tag, rkey, left, ttl, err := f.window(key)
	if err != nil {
		return res, err
	}
	res.ResetAfter = left
	if n < 1 || n > f.opts.Limit {
		return res, fmt.Errorf("%w: cost %d outside [1, %d]", ErrInvalidCost, n, f.opts.Limit)
	}
	if d, _ := f.deny.until(rkey, f.opts.Now); d > 0 {
		res.RetryAfter, res.Local = d, true
		return res, nil
	}
	count, allowed, err := f.increment(ctx, tag, rkey, n, ttl)
	if err != nil {
		return res, err
	}
	res.Remaining = max(0, f.opts.Limit-int(count))
	res.Allowed = allowed
	if !allowed {
		res.RetryAfter = left
		if res.Remaining == 0 {
			f.deny.deny(rkey, f.opts.Now(), left, 0)
		}
	}
	return res, nil
}

// increment returns the counter after the decision and whether n fitted.
// The transaction path counts denied single units too (the count only
// passes the limit once the window is used up, so nothing is lost); the
// script path changes nothing on a denial.
func (f *fixedWindow) increment(ctx context.Context, tag, rkey string, n int, ttl time.Duration) (int64, bool, error) {
	if n == 1 && f.batch != nil && !f.batch.unsupported.Load() {
		count, err := f.batch.incr(ctx, rkey, ttl)
		if !errors.Is(err, errUnsupported) {
			return count, count <= int64(f.opts.Limit), err
		}
	}
	out, err := f.scripts.decideOne(ctx, tag, rkey, ttl, true, n)
	if err != nil {
		return 0, false, err
	}
	return out[1], out[0] == 0, nil
}

// newCounterBatcher returns the batcher of counterScript for decisions on
// len(limits) counters each, under these limits.
func newCounterBatcher(rdb redis.UniversalClient, timeout time.Duration, wait call.Wait, limits []int) *scriptBatcher {
	head := make([]any, 0, 1+len(limits))
	head = append(head, len(limits))
	for _, l := range limits {
		head = append(head, l)
	}
	return newScriptBatcher(rdb, timeout, wait, counterScript, head, 2+len(limits), 1+len(limits), counterReply)
}

// counterReply derives, from the reply of a counterScript entry (denied,
// admitted, the counts before it), the reply of its decision of cost n at
// position pos: denied (0: allowed), then the counts after it.
func counterReply(entry []int64, n, pos int, out []int64) {
	admitted := entry[1]
	done := min(int64(pos)+1, admitted) // the entry's decisions counted up to this one
	out[0] = 0
	if int64(pos) >= admitted {
		out[0] = entry[0]
	}
	for i := range out[1:] {
		out[1+i] = entry[2+i] + int64(n)*done
	}
}

func (f *fixedWindow) peek(ctx context.Context, key string) (Result, error) {
	res := Result{Limit: f.opts.Limit, Policy: f.opts.Policy, Window: f.opts.Window}
	_, rkey, left, _, err := f.window(key)
	if err != nil {
		return res, err
	}
	res.ResetAfter = left
	cmd := redis.NewStringCmd(ctx, "get", rkey)
	var count int64
	switch err = f.exec.do(ctx, cmd); {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return res, err
	default:
		if count, err = cmd.Int64(); err != nil {
			return res, fmt.Errorf("ratelimit: counter %q: %w", rkey, err)
		}
	}
	res.Remaining = max(0, f.opts.Limit-int(count))
	res.Allowed = res.Remaining > 0
	if !res.Allowed {
		res.RetryAfter = left
	}
	return res, nil
}

func (f *fixedWindow) reset(ctx context.Context, key string) error {
	_, rkey, _, _, err := f.window(key)
	if err != nil {
		return err
	}
	f.deny.forget(rkey)
	return f.exec.do(ctx, redis.NewIntCmd(ctx, "del", rkey))
}
