package core

import (
	"context"
	"time"
)

// Observer is the one instrumentation hook of a Client: every feature built
// on the Client (memo, ratelimit, httpcache, viewcount) reports through it,
// without options of its own. Set it with Config.Observer or
// Client.WithObserver before building the features: a feature takes the
// Observer of the Client it is built with. A Client without one reports
// nothing, at no cost (no call, no allocation). An Observer must be safe for
// concurrent use and fast: its methods run on the features' hot paths.
// Package github.com/rediskit/rediskit/otel implements it for
// OpenTelemetry.
type Observer interface {
	// Start begins one unit of work of feature ("memo", "ratelimit",
	// "httpcache" or "viewcount"): op is "load" (memo: a call of the wrapped
	// function), "decision" (ratelimit: one AllowN), "fetch" (httpcache: a
	// request passed to the handler or revalidated) or "flush" (viewcount:
	// one flush of buffered views). The feature runs the work with the
	// returned ctx and calls end exactly once, with the work's error (nil on
	// success; for a decision, a denial is not an error).
	Start(ctx context.Context, feature, op string) (_ context.Context, end func(error))
	// RedisWait reports how long one Redis call of feature waited, from the
	// call's start to its reply, timeout or cancellation: the time the
	// request budget is charged (Config.RequestBudget).
	RedisWait(ctx context.Context, feature string, d time.Duration)
}

// WithObserver returns a Client sharing c's connection whose features
// report to o (nil: to none). Features built on c before keep c's
// Observer.
func (c *Client) WithObserver(o Observer) *Client {
	cc := c.WithCacheTTL(c.cacheTTL)
	cc.observer = o
	return cc
}

// Observer returns the Observer the Client's features report to, or nil.
func (c *Client) Observer() Observer { return c.observer }
