package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// multi checks several fixed-window limits on each request, all or
// nothing, in one round trip: one Lua script over counters that share the
// key's {id} hash tag, so it is cluster-safe.
type multi struct {
	opts    Options
	exec    *executor
	scripts *scriptBatcher
	deny    *denyCache
	keys    []keyShape // per policy: namespace:multi:{id}:name:windowms:window
}

// NewMulti returns a limiter over c that checks several fixed-window limits
// (opts.Policies, for example 10 per second and 1,000 per hour) on each
// request, all or nothing, in one round trip; a denied request consumes
// none of them. The Result describes the denying policy, or on success the
// one with the fewest units left. Policy names must be unique; Limit,
// Window, Burst and Policy must be zero.
func NewMulti(c *core.Client, opts Options) (*RedisLimiter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if len(opts.Policies) == 0 {
		return nil, fmt.Errorf("%w: no policies", ErrInvalidOptions)
	}
	if opts.Limit != 0 || opts.Window != 0 || opts.Burst != 0 || opts.Policy != "" {
		return nil, fmt.Errorf("%w: NewMulti takes its limits from Policies: leave Limit, Window, Burst and Policy zero", ErrInvalidOptions)
	}
	seen := map[string]bool{}
	for _, p := range opts.Policies {
		if !validToken(p.Name) || seen[p.Name] {
			return nil, fmt.Errorf("%w: policy name %q invalid or repeated", ErrInvalidOptions, p.Name)
		}
		if p.Limit < 1 || p.Window < time.Millisecond {
			return nil, fmt.Errorf("%w: policy %q: want limit >= 1 and window >= 1ms, got %d per %v",
				ErrInvalidOptions, p.Name, p.Limit, p.Window)
		}
		seen[p.Name] = true
	}
	opts.Policies = append([]Policy(nil), opts.Policies...)
	if err := opts.fill(); err != nil {
		return nil, err
	}
	limits := make([]int, len(opts.Policies))
	for i, p := range opts.Policies {
		limits[i] = p.Limit
	}
	wait := waitOf(c)
	m := &multi{opts: opts, exec: newExecutor(c, opts.Timeout, wait), deny: newDenyCache(opts.DenyCacheSize),
		scripts: newCounterBatcher(c.Redis(), opts.Timeout, wait, limits)}
	for _, p := range opts.Policies {
		m.keys = append(m.keys, newKeyShape(opts.Namespace, "multi", true, p.Name, durationMS(p.Window)))
	}
	return newRedisLimiter(c, &opts, m), nil
}

// windows computes each policy's key, time left and TTL.
func (m *multi) windows(key string) (tag string, keys []string, left, ttls []time.Duration, err error) {
	now := m.opts.Now().UnixNano()
	n := len(m.opts.Policies)
	durations := make([]time.Duration, 2*n) // left, then ttls: one allocation
	keys, left, ttls = make([]string, n), durations[:n:n], durations[n:]
	var wbuf [8]int64
	ws := wbuf[:0]
	for i, p := range m.opts.Policies {
		w := now / int64(p.Window)
		ws = append(ws, w)
		left[i] = time.Duration((w+1)*int64(p.Window) - now)
		ttls[i] = left[i] + min(p.Window, time.Second)
	}
	if tag, err = keysOf(key, m.keys, true, ws, keys); err != nil {
		return "", nil, nil, nil, err
	}
	return tag, keys, left, ttls, nil
}

// allowN consumes n units from every policy if n fits under all of them,
// and nothing otherwise.
func (m *multi) allowN(ctx context.Context, key string, n int) (Result, error) {
	res := m.result(0, 0, 0)
	tag, keys, left, ttls, err := m.windows(key)
	if err != nil {
		return res, err
	}
	for i, p := range m.opts.Policies {
		if n < 1 || n > p.Limit {
			return m.result(i, int64(p.Limit), left[i]),
				fmt.Errorf("%w: cost %d outside [1, %d] of policy %q", ErrInvalidCost, n, p.Limit, p.Name)
		}
	}
	// The deny cache is this limiter's own: the key's {id} names the entry.
	if d, i := m.deny.until(tag, m.opts.Now); d > 0 {
		// The policy that denied, used up until its window ends.
		res = m.result(i, int64(m.opts.Policies[i].Limit), d)
		res.RetryAfter, res.Local = d, true
		return res, nil
	}
	out, err := m.scripts.decide(ctx, tag, keys, ttls, n)
	if err != nil {
		return res, err
	}
	denied, counts := int(out[0]), out[1:]
	if denied > 0 {
		i := denied - 1
		res = m.result(i, counts[i], left[i])
		res.RetryAfter = left[i]
		if res.Remaining == 0 {
			m.deny.deny(tag, m.opts.Now(), left[i], i)
		}
		return res, nil
	}
	res = m.tightest(counts, left)
	res.Allowed = true
	return res, nil
}

// result describes policy i with count used.
func (m *multi) result(i int, count int64, left time.Duration) Result {
	p := m.opts.Policies[i]
	return Result{Limit: p.Limit, Remaining: max(0, p.Limit-int(count)), ResetAfter: left, Policy: p.Name, Window: p.Window}
}

// tightest returns the policy with the fewest units left.
func (m *multi) tightest(counts []int64, left []time.Duration) Result {
	best := m.result(0, counts[0], left[0])
	for i := 1; i < len(counts); i++ {
		if r := m.result(i, counts[i], left[i]); r.Remaining < best.Remaining {
			best = r
		}
	}
	return best
}

// peek reports the tightest policy without consuming anything.
func (m *multi) peek(ctx context.Context, key string) (Result, error) {
	res := m.result(0, 0, 0)
	_, keys, left, _, err := m.windows(key)
	if err != nil {
		return res, err
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, "mget")
	for _, k := range keys {
		args = append(args, k)
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	if err = m.exec.do(ctx, cmd); err != nil {
		return res, err
	}
	counts := make([]int64, len(keys))
	for i, v := range cmd.Val() {
		if s, ok := v.(string); ok { // nil: no counter yet
			if counts[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return res, fmt.Errorf("ratelimit: counter %q: %w", keys[i], err)
			}
		}
	}
	res = m.tightest(counts, left)
	res.Allowed = res.Remaining > 0
	if !res.Allowed {
		res.RetryAfter = res.ResetAfter
	}
	return res, nil
}

// reset deletes key's current counters of every policy and its local deny
// entry.
func (m *multi) reset(ctx context.Context, key string) error {
	tag, keys, _, _, err := m.windows(key)
	if err != nil {
		return err
	}
	m.deny.forget(tag)
	args := make([]any, 0, len(keys)+1)
	args = append(args, "del")
	for _, k := range keys {
		args = append(args, k)
	}
	return m.exec.do(ctx, redis.NewIntCmd(ctx, args...))
}
