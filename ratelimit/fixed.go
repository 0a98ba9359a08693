package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// FixedWindow is a fixed-window counter limiter: at most Limit units per
// window per key, windows aligned to multiples of Window since the Unix
// epoch. It is safe for concurrent use and needs no Close.
//
// A decision is one round trip. On a standalone Redis 7+, Allow rides a
// shared transaction MULTI{INCRBY; PEXPIRE NX} batched with concurrent
// decisions; AllowN with n > 1, clusters and older servers use one Lua
// script that increments only when the cost fits. Either way the count and
// its TTL change atomically, so no counter lives without a TTL.
type FixedWindow struct {
	opts  Options
	exec  *executor
	batch *txBatcher // nil on a cluster or a non-standard client
	deny  *denyCache
}

var _ Limiter = (*FixedWindow)(nil)

// NewFixedWindow returns a fixed-window limiter over c. It checks opts (see
// Options for the defaults) and does not dial Redis.
func NewFixedWindow(c *core.Client, opts Options) (*FixedWindow, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	l := &FixedWindow{opts: opts, exec: newExecutor(c.Redis(), opts.Timeout), deny: newDenyCache(opts.DenyCacheSize)}
	if _, ok := c.Redis().(*redis.Client); ok {
		l.batch = newTxBatcher(c.Redis(), opts.Timeout)
	}
	return l, nil
}

// window returns the current window number, the Redis key, the time left in
// the window and the counter's TTL (the rest of the window plus a grace of
// up to a second for late requests and clock skew).
func (l *FixedWindow) window(key string) (rkey string, left, ttl time.Duration, err error) {
	tag, err := hashTag(key)
	if err != nil {
		return "", 0, 0, err
	}
	now := l.opts.Now().UnixNano()
	w := now / int64(l.opts.Window)
	left = time.Duration((w+1)*int64(l.opts.Window) - now)
	ttl = left + min(l.opts.Window, time.Second)
	return windowKey(l.opts.Prefix, "fw", tag, w, l.opts.Policy, durationMS(l.opts.Window)), left, ttl, nil
}

// Allow is AllowN(ctx, key, 1).
func (l *FixedWindow) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN consumes n units of key's current window if they all fit, and none
// otherwise. Once a key has no units left, further calls are answered from
// the local deny cache until its window ends, without Redis.
func (l *FixedWindow) AllowN(ctx context.Context, key string, n int) (res Result, err error) {
	start := time.Now()
	defer func() { report(l.opts.OnDecision, key, res, err, start) }()
	res = Result{Limit: l.opts.Limit, Policy: l.opts.Policy, Window: l.opts.Window}
	rkey, left, ttl, err := l.window(key)
	if err != nil {
		return res, err
	}
	res.ResetAfter = left
	if n < 1 || n > l.opts.Limit {
		return res, fmt.Errorf("%w: cost %d outside [1, %d]", ErrInvalidCost, n, l.opts.Limit)
	}
	if d, _ := l.deny.until(rkey, l.opts.Now()); d > 0 {
		res.RetryAfter, res.Local = d, true
		return res, nil
	}
	count, allowed, err := l.increment(ctx, rkey, n, ttl)
	if err != nil {
		return res, err
	}
	res.Remaining = max(0, l.opts.Limit-int(count))
	res.Allowed = allowed
	if !allowed {
		res.RetryAfter = left
		if res.Remaining == 0 {
			l.deny.deny(rkey, l.opts.Now(), left, 0)
		}
	}
	return res, nil
}

// increment returns the counter after the decision and whether n fitted.
// The batched path counts denied single units too (the count only passes
// the limit once the window is used up, so nothing is lost); the script
// path changes nothing on a denial.
func (l *FixedWindow) increment(ctx context.Context, rkey string, n int, ttl time.Duration) (int64, bool, error) {
	if n == 1 && l.batch != nil && !l.batch.unsupported.Load() {
		count, err := l.batch.incr(ctx, rkey, ttl, l.opts.Timeout)
		if !errors.Is(err, errUnsupported) {
			return count, count <= int64(l.opts.Limit), err
		}
	}
	counts, denied, err := runCounter(ctx, l.exec, []string{rkey}, n, []int{l.opts.Limit}, []time.Duration{ttl})
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

// Peek reports key's current window without consuming anything: Allowed
// tells whether one more unit would fit.
func (l *FixedWindow) Peek(ctx context.Context, key string) (res Result, err error) {
	start := time.Now()
	defer func() { report(l.opts.OnDecision, key, res, err, start) }()
	res = Result{Limit: l.opts.Limit, Policy: l.opts.Policy, Window: l.opts.Window}
	rkey, left, _, err := l.window(key)
	if err != nil {
		return res, err
	}
	res.ResetAfter = left
	cmd := redis.NewStringCmd(ctx, "get", rkey)
	var count int64
	switch err = l.exec.do(ctx, cmd); {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return res, err
	default:
		if count, err = cmd.Int64(); err != nil {
			return res, fmt.Errorf("ratelimit: counter %q: %w", rkey, err)
		}
	}
	res.Remaining = max(0, l.opts.Limit-int(count))
	res.Allowed = res.Remaining > 0
	if !res.Allowed {
		res.RetryAfter = left
	}
	return res, nil
}

// Reset deletes key's counter for the current window and its local deny
// entry. Other processes' deny caches keep their entries until the window
// ends.
func (l *FixedWindow) Reset(ctx context.Context, key string) error {
	rkey, _, _, err := l.window(key)
	if err != nil {
		return err
	}
	l.deny.forget(rkey)
	return l.exec.do(ctx, redis.NewIntCmd(ctx, "del", rkey))
}
