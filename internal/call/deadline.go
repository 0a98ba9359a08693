package call

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlineCtx is Detached's context: parent's values, a deadline and a
// done channel shared with the calls whose deadline falls in the same tick.
// Its Value is the parent's for every key (context.Cause of it may
// therefore name a cancellation of the parent that this context ignores;
// Err is what counts).
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	done     <-chan struct{}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Value(key any) any           { return c.parent.Value(key) }

// Err is context.DeadlineExceeded once Done is closed, else nil.
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) String() string { return "call.Detached(deadline " + c.deadline.String() + ")" }

// tick is the resolution of the shared done channels: one timer per tick in
// which some call's deadline falls, instead of one per call.
const tick = time.Millisecond

// ticks holds the channels of recent ticks, by tick number modulo its size.
// A slot whose tick is over is replaced by the next tick that maps to it;
// two calls racing for a slot may each make a channel for the same tick,
// which is harmless (both close at its end).
var ticks [256]atomic.Pointer[tickDone]

// epoch is the origin of tick numbers, on the monotonic clock.
var epoch = time.Now()

type tickDone struct {
	n    int64 // tick number: it covers [epoch+n·tick, epoch+(n+1)·tick)
	done chan struct{}
}

// closed is the done channel of deadlines already past.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// doneAt returns a channel closed at the start of deadline's tick: up to
// one tick before deadline, never after it, so a call never waits past its
// bound (a bound shorter than what is left of the current tick, such as a
// nearly spent request budget, is done at once).
//
// It reads the clock itself: now may be a caller's earlier reading (a
// retry reuses its first call's), and a channel closed late would be late
// for every call sharing its tick.
func doneAt(deadline time.Time) <-chan struct{} {
	n := int64(deadline.Sub(epoch) / tick)
	in := time.Until(epoch.Add(time.Duration(n) * tick))
	if in <= 0 {
		return closed
	}
	slot := &ticks[n%int64(len(ticks))]
	t := slot.Load()
	if t != nil && t.n == n {
		return t.done
	}
	mine := &tickDone{n: n, done: make(chan struct{})}
	for !slot.CompareAndSwap(t, mine) {
		if t = slot.Load(); t != nil && t.n == n {
			return t.done
		}
	}
	time.AfterFunc(in, func() { close(mine.done) })
	return mine.done
}
