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
// A decision is one round trip. On a standalone Redis 7+, Allow rides a
// shared transaction MULTI{INCRBY; PEXPIRE NX} batched with concurrent
// decisions; AllowN with n > 1, clusters and older servers use one Lua
// script that increments only when the cost fits. Either way the count and
// its TTL change atomically, so no counter lives without a TTL.
type fixedWindow struct {
	opts  Options
	exec  *executor
	batch *txBatcher // nil on a cluster or a non-standard client
	deny  *denyCache
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
	f := &fixedWindow{opts: opts, exec: newExecutor(c, opts.Timeout), deny: newDenyCache(opts.DenyCacheSize)}
	if _, ok := c.Redis().(*redis.Client); ok {
		f.batch = newTxBatcher(c.Redis(), opts.Timeout, call.Observe(c.Observer(), "ratelimit"))
	}
	return newRedisLimiter(c, &opts, f), nil
}

// window returns the Redis key, the time left in the current window and
// the counter's TTL (the rest of the window plus a grace of up to a second
// for late requests and clock skew).
func (f *fixedWindow) window(key string) (rkey string, left, ttl time.Duration, err error) {
	tag, err := hashTag(key)
	if err != nil {
		return "", 0, 0, err
	}
	now := f.opts.Now().UnixNano()
	w := now / int64(f.opts.Window)
	left = time.Duration((w+1)*int64(f.opts.Window) - now)
	ttl = left + min(f.opts.Window, time.Second)
	return windowKey(f.opts.Namespace, "fw", tag, w, f.opts.Policy, durationMS(f.opts.Window)), left, ttl, nil
}

func (f *fixedWindow) allowN(ctx context.Context, key string, n int) (Result, error) {
	res := Result{Limit: f.opts.Limit, Policy: f.opts.Policy, Window: f.opts.Window}
	rkey, left, ttl, err := f.window(key)
	if err != nil {
		return res, err
	}
	res.ResetAfter = left
	if n < 1 || n > f.opts.Limit {
		return res, fmt.Errorf("%w: cost %d outside [1, %d]", ErrInvalidCost, n, f.opts.Limit)
	}
	if d, _ := f.deny.until(rkey, f.opts.Now()); d > 0 {
		res.RetryAfter, res.Local = d, true
		return res, nil
	}
	count, allowed, err := f.increment(ctx, rkey, n, ttl)
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
// The batched path counts denied single units too (the count only passes
// the limit once the window is used up, so nothing is lost); the script
// path changes nothing on a denial.
func (f *fixedWindow) increment(ctx context.Context, rkey string, n int, ttl time.Duration) (int64, bool, error) {
	if n == 1 && f.batch != nil && !f.batch.unsupported.Load() {
		count, err := f.batch.incr(ctx, rkey, ttl, f.opts.Timeout)
		if !errors.Is(err, errUnsupported) {
			return count, count <= int64(f.opts.Limit), err
		}
	}
	counts, denied, err := runCounter(ctx, f.exec, []string{rkey}, n, []int{f.opts.Limit}, []time.Duration{ttl})
	if err != nil {
		return 0, false, err
	}
	return counts[0], denied == 0, nil
}

// runCounter runs counterScript: the counts after the decision and the
// 1-based index of the first limit that denied (0: allowed).
func runCounter(ctx context.Context, e *executor, keys []string, n int, limits []int, ttls []time.Duration) ([]int64, int, error) {
	args := make([]any, 0, 1+2*len(keys))
	args = append(args, n)
	for _, lim := range limits {
		args = append(args, lim)
	}
	for _, ttl := range ttls {
		args = append(args, ttl.Milliseconds())
	}
	cmd, err := e.run(ctx, counterScript, keys, args...)
	if err != nil {
		return nil, 0, err
	}
	vals, err := cmd.Int64Slice()
	if err == nil && len(vals) != len(keys)+1 {
		err = fmt.Errorf("%d values, want %d", len(vals), len(keys)+1)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ratelimit: redis: unexpected script reply: %w", err)
	}
	return vals[1:], int(vals[0]), nil
}

func (f *fixedWindow) peek(ctx context.Context, key string) (Result, error) {
	res := Result{Limit: f.opts.Limit, Policy: f.opts.Policy, Window: f.opts.Window}
	rkey, left, _, err := f.window(key)
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
	rkey, _, _, err := f.window(key)
	if err != nil {
		return err
	}
	f.deny.forget(rkey)
	return f.exec.do(ctx, redis.NewIntCmd(ctx, "del", rkey))
}
