package viewcount

import (
	"context"
	"sync/atomic"
	"time"
)

// Stats are a Counter's cumulative counts since New, for dashboards (the
// per-item numbers are Counts). Views are counted once each: Recorded when
// Record accepts them, then Counted or Deduplicated once Redis decided
// (Direct: at once; Buffered: at the flush that applied them, repeats in
// one batch at once).
type Stats struct {
	// Recorded is the views Record accepted: written to Redis (Direct) or
	// held for a flush (Buffered). Repeats inside the dedup window included.
	Recorded int64 `json:"recorded"`
	// Counted is the recorded views that counted: they incremented a total.
	Counted int64 `json:"counted"`
	// Deduplicated is the recorded views that counted nothing: repeats of a
	// visitor inside the dedup window.
	Deduplicated int64 `json:"deduplicated"`
	// Bots is the bot views RecordBot accepted.
	Bots int64 `json:"bots"`
	// Flushed is the views (bots included) that flushes applied; Flushes
	// the flush attempts that sent something, FlushErrors those that failed
	// (their batches are kept and retried).
	Flushed     int64 `json:"flushed"`
	Flushes     int64 `json:"flushes"`
	FlushErrors int64 `json:"flush_errors"`
	// Dropped is the views a Buffered Counter gave up on: refused for a full
	// buffer (ErrBufferFull), or left when Close gave up.
	Dropped int64 `json:"dropped"`
	// Pending is the views a Buffered Counter holds now, unflushed (a gauge).
	Pending int64 `json:"pending"`
	// Errors is the failures reported to Options.OnError.
	Errors int64 `json:"errors"`
	// LastFlush is when a Buffered Counter's views were last all in Redis:
	// the end of the last flush that applied everything it took or found
	// nothing to send, or the Counter's creation before any. With views
	// pending, time.Since(LastFlush) is the flush lag: no view pending is
	// older. Zero for a Direct Counter.
	LastFlush time.Time `json:"last_flush"`
}

// counters are the atomics behind Stats.
type counters struct {
	recorded, counted, deduplicated, bots  atomic.Int64
	flushed, flushes, flushErrors, dropped atomic.Int64
	errors                                 atomic.Int64
	lastFlush                              atomic.Int64 // UnixNano; Buffered only
}

// Stats returns the Counter's counts; safe to call at any time.
func (c *Counter) Stats() Stats {
	s := Stats{
		Recorded:     c.stats.recorded.Load(),
		Counted:      c.stats.counted.Load(),
		Deduplicated: c.stats.deduplicated.Load(),
		Bots:         c.stats.bots.Load(),
		Flushed:      c.stats.flushed.Load(),
		Flushes:      c.stats.flushes.Load(),
		FlushErrors:  c.stats.flushErrors.Load(),
		Dropped:      c.stats.dropped.Load(),
		Errors:       c.stats.errors.Load(),
	}
	if c.buf != nil {
		s.Pending = c.buf.pending()
		s.LastFlush = time.Unix(0, c.stats.lastFlush.Load())
	}
	return s
}

// report passes err to OnError and counts it.
func (c *Counter) report(ctx context.Context, err error) {
	c.stats.errors.Add(1)
	c.opts.OnError(ctx, err)
}
