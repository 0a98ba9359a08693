package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/keypart"
	"github.com/rediskit/rediskit/internal/report"
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
// (a Guard) applies its failure policy.
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
	Allowed bool `json:"allowed"`
	// Limit is the quota of the policy that decided: units per Window (for
	// GCRA, Burst: the most units available at once). Remaining never
	// exceeds it.
	Limit int `json:"limit"`
	// Remaining is how many more units fit in the current window (never
	// negative).
	Remaining int `json:"remaining"`
	// ResetAfter is the time until the quota is fully available again.
	ResetAfter time.Duration `json:"reset_after"`
	// RetryAfter is the time until a denied request could succeed; 0 when
	// Allowed.
	RetryAfter time.Duration `json:"retry_after"`
	// Policy is the name of the deciding policy ("default" unless
	// configured); Window is its window. The HTTP headers use both.
	Policy string        `json:"policy"`
	Window time.Duration `json:"window"`
	// Local reports a denial answered by the local deny cache, without Redis.
	Local bool `json:"local"`
	// Fallback reports a decision made in memory by this process while
	// Redis failed (Options.LocalFallback).
	Fallback bool `json:"fallback"`
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
	Fallback  bool          // decided in memory while Redis failed (Options.LocalFallback); Err is then nil
}

// Stats holds a limiter's cumulative counters since it was made, for
// dashboards. Allowed and Denied count the decisions of Allow and AllowN
// (a cost outside the limit, ErrInvalidCost, is neither); Peek and Reset
// count only their failures.
type Stats struct {
	Allowed     uint64 `json:"allowed"`      // decisions that allowed
	Denied      uint64 `json:"denied"`       // decisions that denied, LocalDenied included
	LocalDenied uint64 `json:"local_denied"` // denials answered by the local deny cache, without Redis
	Errors      uint64 `json:"errors"`       // Redis failures and timeouts (each also passed to OnError), those the fallback decided included
	Fallback    uint64 `json:"fallback"`     // decisions made in memory while Redis failed (Options.LocalFallback), also in Allowed or Denied
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
	// Options.Timeout (or the request budget, see core.Client.WithBudget).
	ErrTimeout = errors.New("ratelimit: redis call timed out")
	// ErrOverloaded reports a decision refused because too many (50,000)
	// are already queued for one Redis batch (Redis is stalled); it is
	// handled like a Redis error.
	ErrOverloaded = errors.New("ratelimit: too many decisions waiting for redis")
	// ErrLimited is the error a Guard passes to its DenyHandler (and the
	// Echo adapter attaches to its 429 error).
	ErrLimited = errors.New("ratelimit: rate limit exceeded")
	// ErrNoKey reports a request a KeyFunc cannot identify (no client IP, a
	// missing header, no user); a Guard answers it with 403.
	ErrNoKey = errors.New("ratelimit: cannot identify the client")
)

// Defaults of Options.
const (
	// DefaultNamespace is the Namespace of Options whose Namespace is empty.
	DefaultNamespace = "ratelimit"
	// DefaultTimeout is the Timeout of Options whose Timeout is zero.
	DefaultTimeout = 50 * time.Millisecond
)

const (
	defaultLimit         = 100
	defaultWindow        = time.Minute
	defaultPolicy        = "default"
	defaultDenyCacheSize = 100_000
	// maxQueued bounds the decisions waiting for one Redis batch; beyond it
	// a call fails fast with ErrOverloaded instead of piling up.
	maxQueued = batch.DefaultMaxQueued
)

// Options configures NewFixedWindow, NewGCRA and NewMulti. The zero value
// is, for NewFixedWindow and NewGCRA, 100 units per minute under the
// "ratelimit" namespace with a 50 ms Redis timeout; NewMulti needs
// Policies. A field that does not apply to the limiter being built must be
// left zero (ErrInvalidOptions otherwise).
type Options struct {
	// Limit is the number of units allowed per Window (GCRA: the rate,
	// Limit units per Window). Default 100. Not for NewMulti.
	Limit int
	// Window is the window length (GCRA: the period of the rate), at least
	// 1 ms. Default 1 minute. Not for NewMulti.
	Window time.Duration
	// Burst is, for NewGCRA only, the most units available at once.
	// Default Limit.
	Burst int
	// Policies are, for NewMulti only (and required there), the limits
	// checked together, all or nothing. Names must be unique.
	Policies []Policy
	// Policy names the policy in the RateLimit headers and in the Redis
	// keys: letters, digits, '_', '-' and '.'. Default "default". Limiters
	// of one kind with the same Namespace, Policy and Window share their
	// counters. Not for NewMulti (each Policy has its Name).
	Policy string
	// Namespace starts every Redis key (no braces, globs or spaces).
	// Default "ratelimit".
	Namespace string
	// Timeout bounds each Redis call (the wait for its answer). Default
	// 50 ms: a slow Redis costs a request at most this much before the
	// failure policy applies. The request budget a ctx carries (see
	// core.Client.WithBudget) can make it shorter.
	Timeout time.Duration
	// DenyCacheSize is the most keys the local deny cache holds. Default
	// 100,000; negative disables the cache.
	DenyCacheSize int
	// OnError receives every Redis failure and timeout the limiter returns,
	// once (a Guard does not report them again); when the limiter decided
	// for a Guard, core.RequestFromContext(ctx) is the request. Default: a
	// Warn record through slog.Default(), at most one per second, counting
	// the ones it suppressed.
	OnError core.ErrorHandler
	// LocalFallback makes the limiter decide on its own, in memory, when
	// Redis fails or times out, instead of returning the error: each
	// process applies the same policy (Limit per Window, GCRA's rate and
	// Burst, or every Multi policy) to the keys it sees, and AllowN returns
	// that decision with Result.Fallback set and a nil error, so a Guard
	// answers 200 or 429 as usual and never fails open or closed. Every
	// decision still asks Redis first (a down Redis that refuses
	// connections costs little; an unresponsive one costs each decision its
	// Timeout), so the limiter hands back to Redis with the first decision
	// Redis answers (go-redis redials a refused server about once a
	// second). The failure is still reported to
	// OnError and counted in Stats.Errors; Stats.Fallback counts the local
	// decisions.
	//
	// The limit becomes per process: N processes may admit up to N×Limit
	// per window during an outage, and the Redis counters do not learn of
	// the local admissions, so the window in which Redis returns may admit
	// up to Limit more. Peek and Reset still return Redis' errors (Reset
	// also clears the local state of the key). Default false.
	LocalFallback bool
	// LocalFallbackSize bounds the keys LocalFallback remembers. Default
	// 100,000 (a few hundred bytes each); a full table forgets keys whose
	// windows ended, then arbitrary ones (their counts restart).
	LocalFallbackSize int
	// OnDecision, when set, is called after every decision. It must be fast
	// and must not block.
	OnDecision func(Decision)
	// Now is the clock, for tests. Default time.Now. Window boundaries are
	// computed from it, so the clocks of all processes sharing a limiter
	// should agree (NTP); a skew of s shifts a process's windows by s. GCRA
	// uses Redis' clock and Now only for its deny cache.
	Now func() time.Time
}

// Policy is one limit of a Multi limiter: Limit units per Window.
type Policy struct {
	Name   string        // header policy name and key part; letters, digits, '_', '-', '.'
	Limit  int           // units per window, positive
	Window time.Duration // at least 1 ms
}

// defaultOnError is the OnError of every limiter without one: one report
// for the package, so an outage logs once a second whatever the number of
// limiters.
var defaultOnError = report.Default("ratelimit")

// fill applies the defaults shared by every limiter and checks them.
func (o *Options) fill() error {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if err := keypart.CheckNamespace(o.Namespace); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return fmt.Errorf("%w: timeout must be positive, got %v", ErrInvalidOptions, o.Timeout)
	}
	if o.DenyCacheSize == 0 {
		o.DenyCacheSize = defaultDenyCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = defaultOnError
	}
	return nil
}

// fillSingle applies the defaults of the single-policy limiters
// (NewFixedWindow, NewGCRA) and checks them.
func (o *Options) fillSingle(gcra bool) error {
	if len(o.Policies) > 0 {
		return fmt.Errorf("%w: Policies are for NewMulti", ErrInvalidOptions)
	}
	if !gcra && o.Burst != 0 {
		return fmt.Errorf("%w: Burst is for NewGCRA", ErrInvalidOptions)
	}
	if o.Limit == 0 {
		o.Limit = defaultLimit
	}
	if o.Window == 0 {
		o.Window = defaultWindow
	}
	if o.Burst == 0 {
		o.Burst = o.Limit
	}
	if o.Limit < 0 || o.Burst < 0 {
		return fmt.Errorf("%w: limit and burst must be positive, got %d and %d", ErrInvalidOptions, o.Limit, o.Burst)
	}
	if o.Window < time.Millisecond {
		return fmt.Errorf("%w: window must be at least 1ms, got %v", ErrInvalidOptions, o.Window)
	}
	if o.Policy == "" {
		o.Policy = defaultPolicy
	}
	if !validToken(o.Policy) {
		return fmt.Errorf("%w: policy name %q: want letters, digits, '_', '-' or '.'", ErrInvalidOptions, o.Policy)
	}
	return o.fill()
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

// RedisLimiter is a Limiter whose state lives in Redis, shared by every
// process that builds one with the same Namespace and policy: a fixed
// window (NewFixedWindow), a GCRA (NewGCRA) or several fixed windows at
// once (NewMulti). It is safe for concurrent use, needs no Close and never
// panics. Every Redis failure it returns also goes to Options.OnError, and
// is counted in Stats.
type RedisLimiter struct {
	c          *core.Client
	obs        core.Observer // nil: no decision spans
	alg        algorithm
	onError    core.ErrorHandler
	onDecision func(Decision)
	fb         *fallback // nil without Options.LocalFallback
	now        func() time.Time

	allowed, denied, local, errs, fallbacks atomic.Uint64
}

var _ Limiter = (*RedisLimiter)(nil)

// algorithm is the Redis side of one kind of limiter.
type algorithm interface {
	allowN(ctx context.Context, key string, n int) (Result, error)
	peek(ctx context.Context, key string) (Result, error)
	reset(ctx context.Context, key string) error
	check(ctx context.Context) error
}

func newRedisLimiter(c *core.Client, opts *Options, alg algorithm) *RedisLimiter {
	return &RedisLimiter{c: c, obs: c.Observer(), alg: alg, onError: opts.OnError, onDecision: opts.OnDecision,
		fb: newFallback(opts, alg), now: opts.Now}
}

// Allow is AllowN(ctx, key, 1).
func (l *RedisLimiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.decide(ctx, key, 1, nil)
}

// AllowN consumes n units of key's quota if they all fit, and none
// otherwise. Once a key has no units left, further calls are answered from
// the local deny cache (FixedWindow, Multi: until the window ends; GCRA:
// after a denial of one unit, until RetryAfter), without Redis.
func (l *RedisLimiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	return l.decide(ctx, key, n, nil)
}

// decide is AllowN; r, when not nil, is the request a failure is reported
// with. With an Observer each decision is one "decision" span, ended with
// the decision's error (a denial is not one).
func (l *RedisLimiter) decide(ctx context.Context, key string, n int, r *http.Request) (res Result, err error) {
	if l.obs != nil {
		var end func(error)
		ctx, end = l.obs.Start(ctx, "ratelimit", "decision")
		defer func() { end(err) }()
	}
	var start time.Time
	if l.onDecision != nil {
		start = time.Now()
	}
	res, err = l.alg.allowN(ctx, key, n)
	if err != nil && l.failed(ctx, r, err) && l.fb != nil {
		res, err = l.fallback(key, n)
	}
	switch {
	case err != nil:
	case res.Allowed:
		l.allowed.Add(1)
	default:
		l.denied.Add(1)
		if res.Local {
			l.local.Add(1)
		}
	}
	l.decided(key, res, err, start)
	return res, err
}

// fallback decides key locally, after Redis failed.
func (l *RedisLimiter) fallback(key string, n int) (Result, error) {
	tag, err := hashTag(key)
	if err != nil {
		return Result{Fallback: true}, err
	}
	res := l.fb.allowN(tag, n, l.now())
	res.Fallback = true
	l.fallbacks.Add(1)
	return res, nil
}

// Peek reports key's current state without consuming anything: Allowed
// tells whether one more unit would fit (Multi: under every policy; the
// Result describes the tightest one).
func (l *RedisLimiter) Peek(ctx context.Context, key string) (Result, error) {
	var start time.Time
	if l.onDecision != nil {
		start = time.Now()
	}
	res, err := l.alg.peek(ctx, key)
	l.failed(ctx, nil, err)
	l.decided(key, res, err, start)
	return res, err
}

// Reset forgets key's usage: its current counters (GCRA: its state) in
// Redis and its local deny entry. Other processes' deny caches keep their
// entries until they expire.
func (l *RedisLimiter) Reset(ctx context.Context, key string) error {
	if l.fb != nil {
		if tag, err := hashTag(key); err == nil {
			l.fb.forget(tag)
		}
	}
	err := l.alg.reset(ctx, key)
	l.failed(ctx, nil, err)
	return err
}

// Check runs, once, every Redis command the limiter uses (those its Lua
// scripts call included) on probe keys under its Namespace that expire
// within seconds and are deleted at the end, so a missing ACL permission or
// an unreachable server is reported at start-up instead of on the first
// request. The error ("ratelimit: check: …") wraps Redis' own, which for a
// missing permission is a NOPERM error naming the command. Check consumes
// no client's quota and reports nothing to OnError.
func (l *RedisLimiter) Check(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("ratelimit: check: %w", core.ErrNilContext)
	}
	if err := l.alg.check(ctx); err != nil {
		return checkError{err}
	}
	return nil
}

// Stats returns the limiter's counters.
func (l *RedisLimiter) Stats() Stats {
	return Stats{Allowed: l.allowed.Load(), Denied: l.denied.Load(), LocalDenied: l.local.Load(), Errors: l.errs.Load(),
		Fallback: l.fallbacks.Load()}
}

// failed counts and reports err, and reports true, when it is a Redis
// failure (not the caller's mistake: an empty key, an impossible cost).
func (l *RedisLimiter) failed(ctx context.Context, r *http.Request, err error) bool {
	if err == nil || errors.Is(err, ErrInvalidCost) || errors.Is(err, ErrInvalidKey) {
		return false
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return false // the caller gave up (a client went away): not Redis' fault
	}
	l.errs.Add(1)
	l.onError(report.WithRequest(ctx, r), err)
	return true
}

// decided calls the OnDecision hook, if any.
func (l *RedisLimiter) decided(key string, res Result, err error, start time.Time) {
	if l.onDecision == nil {
		return
	}
	l.onDecision(Decision{Key: key, Allowed: res.Allowed && err == nil, Remaining: res.Remaining, Err: err,
		Latency: time.Since(start), Local: res.Local, Fallback: res.Fallback})
}
