package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
)

// gcra is a smooth rate limiter (the generic cell rate algorithm of
// github.com/go-redis/redis_rate/v10): one Lua script per decision,
// auto-pipelined, keys under the same namespace as the other limiters
// (namespace:gcra:{id}:policy:periodms).
type gcra struct {
	opts  Options
	rl    *redis_rate.Limiter
	limit redis_rate.Limit
	deny  *denyCache
	exec  *executor
}

// NewGCRA returns a smooth rate limiter over c: opts.Limit units per
// opts.Window, with bursts of up to opts.Burst (default Limit), the
// generic cell rate algorithm of github.com/go-redis/redis_rate/v10 with
// this package's keys and timeouts. Its Results report Limit = Burst, the
// most units available at once, which Remaining counts against; Window is
// the rate's period. Policies must be zero.
func NewGCRA(c *core.Client, opts Options) (*RedisLimiter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if err := opts.fillSingle(true); err != nil {
		return nil, err
	}
	e := newExecutor(c, opts.Timeout)
	g := &gcra{
		opts:  opts,
		rl:    redis_rate.NewLimiter(rediser{e}),
		limit: redis_rate.Limit{Rate: opts.Limit, Period: opts.Window, Burst: opts.Burst},
		deny:  newDenyCache(opts.DenyCacheSize),
		exec:  e,
	}
	return newRedisLimiter(c, &opts, g), nil
}

func (g *gcra) key(key string) (string, error) {
	tag, err := hashTag(key)
	if err != nil {
		return "", err
	}
	return core.MakeKey(g.opts.Namespace, "gcra", tag, g.opts.Policy, durationMS(g.opts.Window)), nil
}

func (g *gcra) allowN(ctx context.Context, key string, n int) (Result, error) {
	res := Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Window}
	if n < 1 || n > g.opts.Burst {
		return res, fmt.Errorf("%w: cost %d outside [1, %d]", ErrInvalidCost, n, g.opts.Burst)
	}
	rkey, err := g.key(key)
	if err != nil {
		return res, err
	}
	if d, _ := g.deny.until(rkey, g.opts.Now()); d > 0 {
		res.RetryAfter, res.ResetAfter, res.Local = d, d, true
		return res, nil
	}
	r, err := g.rl.AllowN(ctx, rkey, g.limit, n)
	if err != nil {
		return res, err
	}
	res = g.result(r)
	if !res.Allowed && n == 1 {
		g.deny.deny(rkey, g.opts.Now(), res.RetryAfter, 0)
	}
	return res, nil
}

func (g *gcra) result(r *redis_rate.Result) Result {
	res := Result{Allowed: r.Allowed > 0, Limit: g.opts.Burst, Remaining: max(0, r.Remaining),
		ResetAfter: max(0, r.ResetAfter), Policy: g.opts.Policy, Window: g.opts.Window}
	if !res.Allowed {
		res.RetryAfter = max(time.Millisecond, r.RetryAfter)
	}
	return res
}

// peek is a zero-cost GCRA step.
func (g *gcra) peek(ctx context.Context, key string) (Result, error) {
	res := Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Window}
	rkey, err := g.key(key)
	if err != nil {
		return res, err
	}
	r, err := g.rl.AllowN(ctx, rkey, g.limit, 0)
	if err != nil {
		return res, err
	}
	res = g.result(r)
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
	rkey, err := g.key(key)
	if err != nil {
		return err
	}
	g.deny.forget(rkey)
	return g.rl.Reset(ctx, rkey)
}

// rediser adapts the executor to redis_rate: it strips redis_rate's fixed
// "rate:" key prefix (our keys carry their own) and runs the scripts through
// the auto-pipeliner with the per-call timeout.
type rediser struct{ e *executor }

const rateLibPrefix = "rate:"

func (r rediser) cmd(ctx context.Context, verb, body string, keys []string, args []any) *redis.Cmd {
	stripped := make([]string, len(keys))
	for i, k := range keys {
		stripped[i] = strings.TrimPrefix(k, rateLibPrefix)
	}
	cmd := redis.NewCmd(ctx, scriptArgs(verb, body, stripped, args)...)
	if err := r.e.doOnce(ctx, cmd); err != nil {
		// The submitted command may still be queued: its accessors would
		// wait for it, and setting its error would race the pipeliner.
		failed := redis.NewCmd(ctx, verb)
		failed.SetErr(err)
		return failed
	}
	return cmd
}

func (r rediser) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return r.cmd(ctx, "eval", script, keys, args)
}

func (r rediser) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return r.cmd(ctx, "evalsha", sha1, keys, args)
}

func (r rediser) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return r.cmd(ctx, "eval_ro", script, keys, args)
}

func (r rediser) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return r.cmd(ctx, "evalsha_ro", sha1, keys, args)
}

func (r rediser) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	return r.e.rdb.ScriptExists(ctx, hashes...)
}

func (r rediser) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	return r.e.rdb.ScriptLoad(ctx, script)
}

func (r rediser) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	args := []any{"del"}
	for _, k := range keys {
		args = append(args, strings.TrimPrefix(k, rateLibPrefix))
	}
	cmd := redis.NewIntCmd(ctx, args...)
	if err := r.e.do(ctx, cmd); err != nil {
		failed := redis.NewIntCmd(ctx, "del")
		failed.SetErr(err)
		return failed
	}
	return cmd
}
