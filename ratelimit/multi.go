package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// Policy is one limit of a Multi limiter: Limit units per Window.
type Policy struct {
	Name   string        // header policy name and key part; letters, digits, '_', '-', '.'
	Limit  int           // units per window, positive
	Window time.Duration // at least 1 ms
}

// MultiOptions configures NewMulti. Policies is required; the other fields
// have the defaults of Options.
type MultiOptions struct {
	Policies      []Policy
	Prefix        string
	Timeout       time.Duration
	DenyCacheSize int
	OnDecision    func(Decision)
	Now           func() time.Time
}

// Multi checks several fixed-window limits (for example 10 per second and
// 1,000 per hour) on each request, all or nothing, in one round trip: one
// Lua script over counters that share the key's {id} hash tag, so it is
// cluster-safe. A denied request consumes none of them. The Result describes
// the denying policy, or on success the one with the fewest units left. It
// is safe for concurrent use.
type Multi struct {
	opts MultiOptions
	exec *executor
	deny *denyCache
}

var _ Limiter = (*Multi)(nil)

// NewMulti returns a multi-limit limiter over c. Policy names must be unique.
func NewMulti(c *core.Client, opts MultiOptions) (*Multi, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	if len(opts.Policies) == 0 {
		return nil, fmt.Errorf("%w: no policies", ErrInvalidOptions)
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
	policy := DefaultPolicy
	if err := fillCommon(&opts.Prefix, &policy, &opts.Timeout, &opts.DenyCacheSize, &opts.Now); err != nil {
		return nil, err
	}
	return &Multi{opts: opts, exec: newExecutor(c.Redis(), opts.Timeout), deny: newDenyCache(opts.DenyCacheSize)}, nil
}

// windows computes each policy's key, time left and TTL.
func (m *Multi) windows(key string) (tag string, keys []string, left, ttls []time.Duration, err error) {
	if tag, err = hashTag(key); err != nil {
		return "", nil, nil, nil, err
	}
	now := m.opts.Now().UnixNano()
	n := len(m.opts.Policies)
	keys, left, ttls = make([]string, n), make([]time.Duration, n), make([]time.Duration, n)
	for i, p := range m.opts.Policies {
		w := now / int64(p.Window)
		left[i] = time.Duration((w+1)*int64(p.Window) - now)
		ttls[i] = left[i] + min(p.Window, time.Second)
		keys[i] = windowKey(m.opts.Prefix, "multi", tag, w, p.Name, durationMS(p.Window))
	}
	return tag, keys, left, ttls, nil
}

// Allow is AllowN(ctx, key, 1).
func (m *Multi) Allow(ctx context.Context, key string) (Result, error) { return m.AllowN(ctx, key, 1) }

// AllowN consumes n units from every policy if n fits under all of them,
// and nothing otherwise.
func (m *Multi) AllowN(ctx context.Context, key string, n int) (res Result, err error) {
	start := time.Now()
	defer func() { report(m.opts.OnDecision, key, res, err, start) }()
	res = m.result(0, 0, 0)
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
	denyKey := core.MakeKey(m.opts.Prefix, "multi", tag)
	if d, i := m.deny.until(denyKey, m.opts.Now()); d > 0 {
		// The policy that denied, used up until its window ends.
		res = m.result(i, int64(m.opts.Policies[i].Limit), d)
		res.RetryAfter, res.Local = d, true
		return res, nil
	}
	limits := make([]int, len(keys))
	for i, p := range m.opts.Policies {
		limits[i] = p.Limit
	}
	counts, denied, err := runCounter(ctx, m.exec, keys, n, limits, ttls)
	if err != nil {
		return res, err
	}
	if denied > 0 {
		i := denied - 1
		res = m.result(i, counts[i], left[i])
		res.RetryAfter = left[i]
		if res.Remaining == 0 {
			m.deny.deny(denyKey, m.opts.Now(), left[i], i)
		}
		return res, nil
	}
	res = m.tightest(counts, left)
	res.Allowed = true
	return res, nil
}

// result describes policy i with count used.
func (m *Multi) result(i int, count int64, left time.Duration) Result {
	p := m.opts.Policies[i]
	return Result{Limit: p.Limit, Remaining: max(0, p.Limit-int(count)), ResetAfter: left, Policy: p.Name, Window: p.Window}
}

// tightest returns the policy with the fewest units left.
func (m *Multi) tightest(counts []int64, left []time.Duration) Result {
	best := m.result(0, counts[0], left[0])
	for i := 1; i < len(counts); i++ {
		if r := m.result(i, counts[i], left[i]); r.Remaining < best.Remaining {
			best = r
		}
	}
	return best
}

// Peek reports the tightest policy without consuming anything.
func (m *Multi) Peek(ctx context.Context, key string) (res Result, err error) {
	start := time.Now()
	defer func() { report(m.opts.OnDecision, key, res, err, start) }()
	res = m.result(0, 0, 0)
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

// Reset deletes key's current counters of every policy and its local deny
// entry.
func (m *Multi) Reset(ctx context.Context, key string) error {
	tag, keys, _, _, err := m.windows(key)
	if err != nil {
		return err
	}
	m.deny.forget(core.MakeKey(m.opts.Prefix, "multi", tag))
	args := make([]any, 0, len(keys)+1)
	args = append(args, "del")
	for _, k := range keys {
		args = append(args, k)
	}
	return m.exec.do(ctx, redis.NewIntCmd(ctx, args...))
}
