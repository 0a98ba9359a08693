// Package budget carries a request's Redis budget in a context: one bound on
// how long all the Redis calls made for one request may wait in total,
// whatever feature makes them. Only time spent waiting on Redis counts, not
// the handler's own time: a request whose handler takes 2 s still has its
// whole budget for the response cache's store afterwards.
// core.Client.WithBudget attaches a budget; call.Context, the per-call bound
// of every feature, draws on it.
package budget

import (
	"context"
	"sync/atomic"
	"time"
)

type key struct{}

// Budget is the Redis-wait time one request has left. It is safe for
// concurrent use: calls made in parallel for one request each spend their
// own wait.
type Budget struct {
	left atomic.Int64 // nanoseconds
}

// Left returns the wait time left; zero or less when spent.
func (b *Budget) Left() time.Duration { return time.Duration(b.left.Load()) }

// Spend takes d off the budget.
func (b *Budget) Spend(d time.Duration) { b.left.Add(-int64(d)) }

// budgetCtx carries a budget (nil: one removed by Without) in one
// allocation.
type budgetCtx struct {
	context.Context
	b *Budget
}

func (c *budgetCtx) Value(k any) any {
	if k == (key{}) {
		return c.b
	}
	return c.Context.Value(k)
}

// With returns ctx carrying a budget of d. A ctx that already carries a
// budget is returned as is: the first rediskit layer to see a request starts
// its budget and every layer inside shares it. d <= 0 returns ctx as is (no
// budget).
func With(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 || From(ctx) != nil {
		return ctx
	}
	c := &struct {
		budgetCtx
		Budget
	}{}
	c.Context, c.b = ctx, &c.Budget
	c.Budget.left.Store(int64(d))
	return &c.budgetCtx
}

// Without returns ctx without the budget it may carry, for work that
// outlives its request on purpose and has its own bound (a background
// revalidation). The value survives context.WithoutCancel, so without
// Without detached work (a store after the response) still draws on it.
func Without(ctx context.Context) context.Context {
	if From(ctx) == nil {
		return ctx
	}
	return &budgetCtx{Context: ctx}
}

// From returns the budget ctx carries, or nil.
func From(ctx context.Context) *Budget {
	b, _ := ctx.Value(key{}).(*Budget)
	return b
}
