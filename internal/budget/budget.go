// Package budget carries a request's Redis budget in a context: one bound on
// how long all the Redis calls made for one request may wait in total,
// whatever feature makes them. core.Client.WithBudget attaches it; the
// per-call bound of every feature (package call) honours it.
package budget

import (
	"context"
	"time"
)

type key struct{}

// With returns ctx carrying a budget that ends d from now. A ctx that
// already carries a budget is returned as is: the first rediskit layer to
// see a request starts its budget and every layer inside shares it. d <= 0
// returns ctx as is (no budget).
func With(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	if _, ok := Deadline(ctx); ok {
		return ctx
	}
	return context.WithValue(ctx, key{}, time.Now().Add(d))
}

// Deadline returns the end of ctx's budget, if it carries one. The value
// survives context.WithoutCancel, so work a request leaves running in the
// background (a store after the response) stays within it too.
func Deadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(key{}).(time.Time)
	return t, ok
}
