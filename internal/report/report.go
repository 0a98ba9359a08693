// Package report is the default failure report of every rediskit feature
// (the OnError every feature uses when none is set): a structured slog
// record at Warn, rate-limited to one per second per feature, counting what
// it suppressed. It also carries the request a failure happened in through
// the context handed to OnError.
package report

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

type requestKey struct{}

// WithRequest returns ctx carrying r, for the ctx a feature passes to
// OnError (read back with Request, exported as core.RequestFromContext).
// A nil r returns ctx as is.
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, requestKey{}, r)
}

// Request returns the request ctx carries (see WithRequest), or nil.
func Request(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// clock is time.Now, replaced by tests.
var clock = time.Now

// Every is the least time between two records of one Default handler.
const Every = time.Second

// Default returns the failure report used when a feature's OnError is nil:
// a Warn record "<feature>: redis failure" through slog.Default(), with the
// error, the request's method and route pattern when ctx carries a request
// (never its path, query or headers, which may hold secrets), and
// "suppressed": the number of failures not logged since the previous record.
// At most one record per Every; the rest are counted, so an outage logs once
// a second instead of once a request. Safe for concurrent use.
func Default(feature string) func(context.Context, error) {
	var (
		mu         sync.Mutex
		last       time.Time
		suppressed int
	)
	msg := feature + ": redis failure"
	return func(ctx context.Context, err error) {
		mu.Lock()
		now := clock()
		if !last.IsZero() && now.Sub(last) < Every {
			suppressed++
			mu.Unlock()
			return
		}
		n := suppressed
		last, suppressed = now, 0
		mu.Unlock()
		attrs := []slog.Attr{slog.Any("err", err), slog.Int("suppressed", n)}
		if r := Request(ctx); r != nil {
			attrs = append(attrs, slog.String("method", r.Method))
			if r.Pattern != "" {
				attrs = append(attrs, slog.String("pattern", r.Pattern))
			}
		}
		slog.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	}
}
