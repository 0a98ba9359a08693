package core

import (
	"context"
	"net/http"
	"time"

	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/report"
)

// ErrorHandler is the OnError of every rediskit feature: it receives each
// failure the feature handled by itself (a Redis error or timeout it failed
// open on, a corrupt entry it overwrote, a flush it will retry). ctx is the
// context of the work that failed; where that work served a request,
// RequestFromContext returns the request. An ErrorHandler must be safe for
// concurrent use and fast. When a feature's OnError is nil, it logs through
// slog.Default() at Warn, at most one record per second per feature, with
// the number of failures it suppressed.
type ErrorHandler func(ctx context.Context, err error)

// RequestFromContext returns the HTTP request a failure happened in, from
// the ctx an ErrorHandler receives, or nil when the work served no request.
func RequestFromContext(ctx context.Context) *http.Request { return report.Request(ctx) }

// DefaultRequestBudget is the request budget of a Client whose
// Config.RequestBudget is zero.
const DefaultRequestBudget = 500 * time.Millisecond

// WithBudget returns ctx carrying the client's request budget
// (Config.RequestBudget): all Redis calls that rediskit features make with
// the returned ctx, or a context derived from it, wait at most that long in
// total, whatever each call's own Timeout. The adapters' middleware call it
// for every request, so a request that passes through a rate limiter, the
// response cache and a memoized load waits on a slow Redis for at most the
// budget, not the sum of their timeouts. A ctx that already carries a
// budget is returned as is (the outermost layer starts it); a client with a
// negative budget returns ctx as is. Call it yourself for work outside HTTP
// (a job, a gRPC call).
func (c *Client) WithBudget(ctx context.Context) context.Context {
	return budget.With(ctx, c.budget)
}

// WithRequestBudget returns a Client sharing c's connection whose WithBudget
// uses d (negative: no budget), for clients made by NewFromRedis or one
// feature that needs another budget. It panics if d is zero.
func (c *Client) WithRequestBudget(d time.Duration) *Client {
	if d == 0 {
		panic("core: WithRequestBudget: zero budget (use a negative one for none)")
	}
	cc := c.WithCacheTTL(c.cacheTTL)
	cc.budget = d
	return cc
}
