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

// GCRAOptions configures NewGCRA: Rate units per Period, with bursts of up
// to Burst. The zero value is 100 per minute with a burst of 100; the other
// fields have the defaults of Options.
type GCRAOptions struct {
	Rate          int           // units per Period; default 100
	Period        time.Duration // default 1 minute
	Burst         int           // default Rate
	Prefix        string
	Policy        string
	Timeout       time.Duration
	DenyCacheSize int
	OnDecision    func(Decision)
	Now           func() time.Time // only the deny cache uses it; Redis' clock drives GCRA
}

// GCRA is a smooth rate limiter (the generic cell rate algorithm of
// github.com/go-redis/redis_rate/v10) behind the Limiter interface: one Lua
// script per decision, auto-pipelined, keys under the same prefix as the
// other limiters (prefix:gcra:{id}:policy:periodms). Its Results report
// Limit = Burst, the most units available at once, which Remaining counts
// against; Window is Period. It is safe for concurrent use.
type GCRA struct {
	opts  GCRAOptions
	rl    *redis_rate.Limiter
	limit redis_rate.Limit
	deny  *denyCache
	exec  *executor
}

var _ Limiter = (*GCRA)(nil)

// NewGCRA returns a GCRA limiter over c.
func NewGCRA(c *core.Client, opts GCRAOptions) (*GCRA, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultLimit
	}
	if opts.Period == 0 {
		opts.Period = DefaultWindow
	}
	if opts.Burst == 0 {
		opts.Burst = opts.Rate
	}
	if opts.Rate < 0 || opts.Burst < 0 || opts.Period < time.Millisecond {
		return nil, fmt.Errorf("%w: want rate, burst >= 1 and period >= 1ms, got %d per %v, burst %d",
			ErrInvalidOptions, opts.Rate, opts.Period, opts.Burst)
	}
	if err := fillCommon(&opts.Prefix, &opts.Policy, &opts.Timeout, &opts.DenyCacheSize, &opts.Now); err != nil {
		return nil, err
	}
	e := newExecutor(c.Redis(), opts.Timeout)
	return &GCRA{
		opts:  opts,
		rl:    redis_rate.NewLimiter(rediser{e}),
		limit: redis_rate.Limit{Rate: opts.Rate, Period: opts.Period, Burst: opts.Burst},
		deny:  newDenyCache(opts.DenyCacheSize),
		exec:  e,
	}, nil
}

func (g *GCRA) key(key string) (string, error) {
	tag, err := hashTag(key)
	if err != nil {
		return "", err
	}
	return core.MakeKey(g.opts.Prefix, "gcra", tag, g.opts.Policy, durationMS(g.opts.Period)), nil
}

// Allow is AllowN(ctx, key, 1).
func (g *GCRA) Allow(ctx context.Context, key string) (Result, error) { return g.AllowN(ctx, key, 1) }

// AllowN consumes n units if they are available now, and none otherwise.
// After a denial of one unit, calls are answered locally until RetryAfter.
func (g *GCRA) AllowN(ctx context.Context, key string, n int) (res Result, err error) {
	start := time.Now()
	defer func() { report(g.opts.OnDecision, key, res, err, start) }()
	res = Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Period}
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

func (g *GCRA) result(r *redis_rate.Result) Result {
	res := Result{Allowed: r.Allowed > 0, Limit: g.opts.Burst, Remaining: max(0, r.Remaining),
		ResetAfter: max(0, r.ResetAfter), Policy: g.opts.Policy, Window: g.opts.Period}
	if !res.Allowed {
		res.RetryAfter = max(time.Millisecond, r.RetryAfter)
	}
	return res
}

// Peek reports whether one unit is available now, without consuming any
// (a zero-cost GCRA step).
func (g *GCRA) Peek(ctx context.Context, key string) (res Result, err error) {
	start := time.Now()
	defer func() { report(g.opts.OnDecision, key, res, err, start) }()
	res = Result{Limit: g.opts.Burst, Policy: g.opts.Policy, Window: g.opts.Period}
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
		emission := g.opts.Period / time.Duration(g.opts.Rate)
		res.RetryAfter = max(time.Millisecond, res.ResetAfter-emission*time.Duration(g.opts.Burst-1))
	}
	return res, nil
}

// Reset forgets key's state.
func (g *GCRA) Reset(ctx context.Context, key string) error {
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
