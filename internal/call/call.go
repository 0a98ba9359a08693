// Package call bounds the Redis calls of every rediskit feature the same
// way: each call waits at most the feature's Timeout, and all calls made for
// one request together wait at most the request's budget (package budget).
// It also marks commands that must never be resent (NoRetry).
package call

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/budget"
)

// ErrTimeout is returned by Do when Redis did not answer within the call's
// timeout or the request's remaining budget.
var ErrTimeout = errors.New("no answer from redis within the call timeout or request budget")

// Wait reports how long one Redis call waited (from Context to its cancel),
// to the Observer of the feature that made it. A nil Wait reports nothing.
type Wait func(ctx context.Context, d time.Duration)

// Observer is the part of core.Observer this package uses.
type Observer interface {
	RedisWait(ctx context.Context, feature string, d time.Duration)
}

// Observe returns the Wait that reports feature's calls to o, or nil when o
// is nil. Features build it once, at construction.
func Observe(o Observer, feature string) Wait {
	if o == nil {
		return nil
	}
	return func(ctx context.Context, d time.Duration) { o.RedisWait(ctx, feature, d) }
}

// Context returns the context for one Redis call made with ctx: its timeout
// is the feature's timeout, or what is left of ctx's request budget when
// that is less. The cancel func takes the call's wait off the budget and
// reports it to w (when not nil), so call it exactly once, as soon as the
// call ends: a second call would spend the wait again. The context is
// cancelled with ctx (pass context.WithoutCancel(ctx) for work that must
// outlive its caller: the budget still applies; budget.Without removes it;
// or see Detached). A spent budget gives a context that is already done.
//
// When ctx cannot be cancelled (its Done is nil, as for
// context.Background and context.WithoutCancel) the call's context has no
// timer of its own: see Detached.
func Context(ctx context.Context, timeout time.Duration, w Wait) (context.Context, context.CancelFunc) {
	if ctx.Done() == nil {
		return Detached(ctx, time.Now(), timeout, w)
	}
	timeout, b := Bound(ctx, timeout)
	if b == nil && w == nil {
		return context.WithTimeout(ctx, timeout)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	return cctx, spender(ctx, b, w, start, cancel)
}

// Detached is Context for a call that ends at its deadline only, not when
// ctx is cancelled: its deadline is the earliest of ctx's own, the
// timeout and what is left of ctx's request budget, and its values are
// ctx's. It is for reads that other callers share, and it is cheap: one
// allocation and no timer of its own (Done is a channel shared by all calls
// whose deadline falls in the same millisecond, closed at its start, so a
// call never waits past its deadline and may end up to a millisecond before
// it; go-redis puts the exact deadline on the socket). now is the current time, for callers
// that have just read the clock; the call's wait is counted from it. The
// cancel func is Context's.
func Detached(ctx context.Context, now time.Time, timeout time.Duration, w Wait) (context.Context, context.CancelFunc) {
	c := Start(ctx, now, timeout, w)
	if c.b == nil && c.w == nil {
		return c, nop
	}
	return c, c.End
}

// Call is one call's Detached context with its cancel func, End, in one
// allocation (Detached's method value End costs a second one).
type Call struct {
	deadlineCtx
	b     *budget.Budget
	w     Wait
	start time.Time
}

// Start is Detached returning the context and its cancel func as one
// *Call: call End exactly once, as soon as the call ends.
func Start(ctx context.Context, now time.Time, timeout time.Duration, w Wait) *Call {
	timeout, b := Bound(ctx, timeout)
	deadline := now.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return &Call{deadlineCtx: deadlineCtx{parent: ctx, deadline: deadline, done: doneAt(deadline)}, b: b, w: w, start: now}
}

// End takes the call's wait off the request budget and reports it to the
// call's Wait.
func (c *Call) End() { Spend(c.parent, c.b, c.w, c.start) }

// spender returns the cancel func of a call that started at start: cancel,
// then Spend.
func spender(ctx context.Context, b *budget.Budget, w Wait, start time.Time, cancel context.CancelFunc) context.CancelFunc {
	return func() {
		cancel()
		Spend(ctx, b, w, start)
	}
}

// Bound returns how long a call made with ctx may wait: timeout, or what
// is left of ctx's request budget when that is less; and that budget (nil
// when ctx carries none), for Spend.
func Bound(ctx context.Context, timeout time.Duration) (time.Duration, *budget.Budget) {
	b := budget.From(ctx)
	if b != nil {
		timeout = min(timeout, b.Left())
	}
	return timeout, b
}

// Spend takes the wait of a call that started at start off b and reports
// it to w (either may be nil): what ends every call, once.
func Spend(ctx context.Context, b *budget.Budget, w Wait, start time.Time) {
	if b == nil && w == nil {
		return
	}
	d := time.Since(start)
	if b != nil {
		b.Spend(d)
	}
	if w != nil {
		w(ctx, d)
	}
}

func nop() {}

// Do runs op with Context(ctx, timeout, w). go-redis honours context deadlines
// on the socket only with ContextTimeoutEnabled (Honoured); when direct is
// false op runs in a goroutine and Do stops waiting at the deadline, with
// ErrTimeout (the abandoned command ends at the client's own read timeout).
func Do[T any](ctx context.Context, timeout time.Duration, w Wait, direct bool, op func(context.Context) (T, error)) (T, error) {
	ctx, cancel := Context(ctx, timeout, w)
	defer cancel()
	if direct {
		return op(ctx)
	}
	type reply struct {
		v   T
		err error
	}
	done := make(chan reply, 1)
	go func() {
		v, err := op(ctx)
		done <- reply{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, ErrTimeout
		}
		return zero, ctx.Err()
	}
}

// Honoured reports whether rdb applies context deadlines to its socket
// reads and writes (ContextTimeoutEnabled, which core.New sets). Clients it
// does not know (a custom UniversalClient) count as not honouring them.
func Honoured(rdb redis.UniversalClient) bool {
	switch r := rdb.(type) {
	case *redis.Client:
		return r.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return r.Options().ContextTimeoutEnabled
	}
	return false
}

// IsTimeout reports whether err is a timeout: ErrTimeout, a context
// deadline, or a network timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// NoRetry marks a command go-redis must send at most once: after a network
// error its reply is lost but it may have run, so resending a command that
// changes a counter could count twice. go-redis honours Cmder.NoRetry on
// single commands, pipelines and its auto-pipeliner; a MOVED or ASK
// redirection is still followed (Redis did not run the command then).
type NoRetry struct{ redis.Cmder }

// NoRetry reports true.
func (NoRetry) NoRetry() bool { return true }
