package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
)

// Limiter decides whether a request identified by key may proceed. All
// implementations in this package are safe for concurrent use.
//
// Allow is AllowN with n = 1. AllowN consumes n units when they all fit and
// none when they do not. Peek reports the state without consuming anything.
// Reset forgets the key's usage (in Redis and in the local deny cache).
//
// On a Redis failure or timeout the call returns a non-nil error wrapping
// ErrTimeout or the Redis error, and a Result with Allowed false; the caller
// (the middleware) applies its failure policy.
type Limiter interface {
	Allow(ctx context.Context, key string) (Result, error)
	AllowN(ctx context.Context, key string, n int) (Result, error)
	Peek(ctx context.Context, key string) (Result, error)
	Reset(ctx context.Context, key string) error
}

// Result is the outcome of a decision.
type Result struct {
	// Allowed reports whether the request may proceed (for Peek: whether one
	// more unit would fit now).
	Allowed bool
	// Limit is the quota of the policy that decided: units per Window (for
	// GCRA, Burst: the most units available at once). Remaining never
	// exceeds it.
	Limit int
	// Remaining is how many more units fit in the current window (never
	// negative).
	Remaining int
	// ResetAfter is the time until the quota is fully available again.
	ResetAfter time.Duration
	// RetryAfter is the time until a denied request could succeed; 0 when
	// Allowed.
	RetryAfter time.Duration
	// Policy is the name of the deciding policy ("default" unless
	// configured); Window is its window. The HTTP headers use both.
	Policy string
	Window time.Duration
	// Local reports a denial answered by the local deny cache, without Redis.
	Local bool
}

// Decision is what the OnDecision hook receives after every Allow, AllowN
// or Peek: for metrics and logs.
type Decision struct {
	Key       string        // the caller's key (not the Redis key)
	Allowed   bool          // the decision (false on error)
	Remaining int           // units left
	Err       error         // non-nil when Redis failed or timed out
	Latency   time.Duration // time spent deciding
	Local     bool          // answered by the local deny cache
}

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidOptions reports a bad configuration given to a constructor.
	ErrInvalidOptions = errors.New("ratelimit: invalid options")
	// ErrInvalidKey reports an empty key.
	ErrInvalidKey = errors.New("ratelimit: invalid key")
	// ErrInvalidCost reports AllowN with n < 1 or n above the limit (such a
	// request could never be allowed). The Result returned with it
	// describes the policy (Limit, Policy, Window and, for the fixed
	// windows, ResetAfter), with Allowed false and Remaining 0.
	ErrInvalidCost = errors.New("ratelimit: invalid cost")
	// ErrTimeout reports a Redis call that did not answer within
	// Options.Timeout.
	ErrTimeout = errors.New("ratelimit: redis call timed out")
	// ErrOverloaded reports a decision refused because too many are already
	// queued for Redis (Redis is stalled); it is handled like a Redis error.
	ErrOverloaded = errors.New("ratelimit: too many decisions waiting for redis")
	// ErrLimited is the error the adapters attach to a 429 response.
	ErrLimited = errors.New("ratelimit: rate limit exceeded")
	// ErrNoKey reports a request a KeyFunc cannot identify (no client IP, a
	// missing header, no user).
	ErrNoKey = errors.New("ratelimit: cannot identify the client")
)

// Defaults applied to zero Options fields.
const (
	DefaultLimit         = 100
	DefaultWindow        = time.Minute
	DefaultPrefix        = "ratelimit"
	DefaultPolicy        = "default"
	DefaultTimeout       = 50 * time.Millisecond
	DefaultDenyCacheSize = 100_000
	// MaxQueued bounds the decisions waiting for one Redis batch; beyond it a
	// call fails fast with ErrOverloaded instead of piling up.
	MaxQueued = 50_000
)

// Options configures NewFixedWindow. The zero value is 100 requests per
// minute under the "ratelimit" prefix with a 50 ms Redis timeout.
type Options struct {
	// Limit is the number of units allowed per window. Default 100.
	Limit int
	// Window is the window length, at least 1 ms. Default 1 minute.
	Window time.Duration
	// Prefix namespaces every Redis key. Default "ratelimit".
	Prefix string
	// Policy names the policy in the RateLimit headers and in the Redis
	// keys: letters, digits, '_', '-' and '.'. Default "default". Limiters
	// with the same Prefix, Policy and Window share their counters.
	Policy string
	// Timeout bounds each Redis call (the wait for its answer). Default
	// 50 ms: a slow Redis costs a request at most this much before the
	// failure policy applies.
	Timeout time.Duration
	// DenyCacheSize is the most keys the local deny cache holds. Default
	// 100,000; negative disables the cache.
	DenyCacheSize int
	// OnDecision, when set, is called after every decision. It must be fast
	// and must not block.
	OnDecision func(Decision)
	// Now is the clock, for tests. Default time.Now. Window boundaries are
	// computed from it, so the clocks of all processes sharing a limiter
	// should agree (NTP); a skew of s shifts a process's windows by s.
	Now func() time.Time
}

func (o *Options) fill() error {
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Limit < 0 {
		return fmt.Errorf("%w: limit must be positive, got %d", ErrInvalidOptions, o.Limit)
	}
	if o.Window < time.Millisecond {
		return fmt.Errorf("%w: window must be at least 1ms, got %v", ErrInvalidOptions, o.Window)
	}
	return fillCommon(&o.Prefix, &o.Policy, &o.Timeout, &o.DenyCacheSize, &o.Now)
}

func fillCommon(prefix, policy *string, timeout *time.Duration, denySize *int, now *func() time.Time) error {
	if *prefix == "" {
		*prefix = DefaultPrefix
	}
	if err := core.CheckNamespace(*prefix); err != nil {
		return fmt.Errorf("%w: prefix: %w", ErrInvalidOptions, err)
	}
	if *policy == "" {
		*policy = DefaultPolicy
	}
	if !validToken(*policy) {
		return fmt.Errorf("%w: policy name %q: want letters, digits, '_', '-' or '.'", ErrInvalidOptions, *policy)
	}
	if *timeout == 0 {
		*timeout = DefaultTimeout
	}
	if *timeout < 0 {
		return fmt.Errorf("%w: timeout must be positive, got %v", ErrInvalidOptions, *timeout)
	}
	if *denySize == 0 {
		*denySize = DefaultDenyCacheSize
	}
	if *now == nil {
		*now = time.Now
	}
	return nil
}

func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// report calls the hook, if any.
func report(hook func(Decision), key string, res Result, err error, start time.Time) {
	if hook == nil {
		return
	}
	hook(Decision{Key: key, Allowed: res.Allowed && err == nil, Remaining: res.Remaining, Err: err,
		Latency: time.Since(start), Local: res.Local})
}
