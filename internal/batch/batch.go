// Package batch coalesces concurrent Redis requests of one feature into
// batches that share one round trip: while one batch is in flight the next
// one fills, so under load each round trip carries every request that
// arrived during the previous one, and an idle batcher costs nothing. One
// flusher goroutine sends the batches. With Options.Alone, a request that
// finds no request waiting, while fewer than Alone others are being sent
// alone, is sent at once by its caller: at low concurrency a request costs
// no hand-over to another goroutine, and only the requests beyond Alone in
// flight are batched.
//
// A Batcher knows nothing of Redis: its send func turns a batch into
// commands (a pipeline, a transaction, one script call) and sets each
// request's reply or error. Sends run at once (the flusher's and those of
// callers sending alone), each with scratch space of its own (S), so send
// may reuse what it keeps there from batch to batch.
//
// What a Batcher guarantees is the bound of every rediskit call (package
// call): each caller waits at most its feature's Timeout, or less when its
// request budget (package budget) or its context's deadline has less left;
// the wait is taken off the budget and reported to the feature's
// call.Wait; and a caller who gave up before its batch was sent is left
// out of it.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/internal/call"
)

// ErrOverloaded is Do's error when Options.MaxQueued requests already wait
// for a batch: the call fails at once instead of piling up.
var ErrOverloaded = errors.New("too many requests waiting for redis")

// maxBatch bounds the requests of one batch (one round trip).
const maxBatch = 512

// DefaultMaxQueued is the MaxQueued of Options that leave it 0.
const DefaultMaxQueued = 50_000

// Options configure a Batcher.
type Options struct {
	// Timeout is the feature's call timeout, the longest a caller waits
	// (less when its request budget or its context's deadline has less
	// left). A batch's context ends at the latest deadline of its callers
	// plus a tenth of Timeout: while Redis
	// is unreachable go-redis may spend long on a batch (dial errors,
	// retry backoff), and bounding it by its callers keeps the one sender
	// free, so the first request after an outage gets through.
	Timeout time.Duration
	// MaxQueued bounds the requests waiting for a batch (ErrOverloaded
	// beyond it); 0 means DefaultMaxQueued.
	MaxQueued int
	// Wait, when not nil, gets each caller's wait.
	Wait call.Wait
	// Detached callers wait for their reply until their deadline even when
	// their context is cancelled, as a call.Detached read does: for reads
	// whose cancellation would only turn into an error to report.
	Detached bool
	// Alone is how many callers may send their own request at once, each
	// when it finds no request waiting (0: none; every request goes
	// through the flusher). Up to about GOMAXPROCS, requests sent alone
	// cost no goroutine hand-over; beyond it, batching saves the CPU the
	// requests compete for. Only for clients that honour context deadlines
	// on the socket (call.Honoured): a caller sending alone waits for
	// Redis, bounded by its deadline, and not for a cancellation of its
	// context (go-redis does not stop a read on it).
	Alone int
}

// Batcher batches the requests of type T of one feature (see the package
// doc); S is its send func's scratch space. The zero value is not usable:
// see New.
type Batcher[T, S any] struct {
	send  func(ctx context.Context, batch []*Pending[T], scratch *S)
	opts  Options
	slack time.Duration
	free  sync.Pool // of *Pending[T] released by their callers: reused

	mu       sync.Mutex
	queue    []*Pending[T]
	flushing bool          // the flusher runs
	alone    int           // callers sending their request alone
	buf      []*Pending[T] // the flusher's batch, reused (one flusher at a time)
	flushS   S             // the flusher's scratch space
	aloneS   sync.Pool     // of *aloneSend[T, S], for callers sending alone
}

// Pending is one request waiting for its batch: Req holds the request
// and, once Do returned nil, what send put in it; send sets Err for a
// request that failed. Get one from Batcher.Get (and Release it), or use a
// zero value once.
type Pending[T any] struct {
	Req T
	Err error

	deadline  time.Time     // when the caller stops waiting
	done      chan struct{} // signalled once (room for the signal: the flusher never blocks)
	abandoned atomic.Bool   // the caller gave up: skip it if not yet sent
}

// Get returns a Pending to fill and pass to Do, reused from an earlier
// request when one was released: a request would otherwise allocate it
// and its channel.
func (b *Batcher[T, S]) Get() *Pending[T] {
	if p, ok := b.free.Get().(*Pending[T]); ok {
		return p
	}
	return &Pending[T]{}
}

// Release gives p back for reuse once its caller has read the reply. A
// request whose caller gave up is left to the garbage collector: its batch
// may still be running and signal it.
func (b *Batcher[T, S]) Release(p *Pending[T]) {
	if p.abandoned.Load() {
		return
	}
	var zero T
	p.Req, p.Err, p.deadline = zero, nil, time.Time{}
	b.free.Put(p)
}

// New returns a Batcher whose batches send sends, with the requests whose
// callers still wait; send must set the Err of those that failed. Two
// sends may run at once, never with the same scratch space.
func New[T, S any](opts Options, send func(ctx context.Context, batch []*Pending[T], scratch *S)) *Batcher[T, S] {
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = DefaultMaxQueued
	}
	return &Batcher[T, S]{send: send, opts: opts, slack: opts.Timeout / 10}
}

// timers holds stopped timers for the waits of Do: a request would
// otherwise allocate one.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// Do queues p (from Get, or a zero Pending with Req set) and waits for its
// batch at most Options.Timeout, or what is left of ctx's request budget
// or until ctx's deadline when less, and takes its wait off the budget. It returns
// p.Err once the batch ran; a *TimeoutError when the caller stopped
// waiting at its timeout or budget; ctx's error when ctx ended first (its
// deadline included), or before anything was queued; ErrOverloaded when
// too many requests wait already. A Detached caller waits for its deadline
// whatever becomes of ctx (ctx's deadline then ends it with a
// *TimeoutError). A caller sending alone (Options.Alone) waits for Redis,
// bounded by its deadline: a cancellation of ctx does not stop the read
// (go-redis does not). The caller may then Release p.
func (b *Batcher[T, S]) Do(ctx context.Context, p *Pending[T]) error {
	now := time.Now()
	wait, bud := call.Bound(ctx, b.opts.Timeout)
	defer call.Spend(ctx, bud, b.opts.Wait, now)
	var cancelled <-chan struct{}
	if !b.opts.Detached {
		if err := ctx.Err(); err != nil { // the caller is gone: never queue a request nobody waits for
			return err
		}
		cancelled = ctx.Done()
	}
	p.deadline = now.Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(p.deadline) {
		p.deadline = d
		if b.opts.Detached { // else ctx's Done reports its own deadline, as ctx's error
			wait = d.Sub(now)
		}
	}
	if wait <= 0 { // the request's budget is spent: the same
		return &TimeoutError{Wait: 0}
	}
	b.mu.Lock()
	if b.alone < b.opts.Alone && len(b.queue) == 0 {
		b.alone++
		b.mu.Unlock()
		b.sendAlone(ctx, now, p, wait)
		return p.Err
	}
	if p.done == nil {
		p.done = make(chan struct{}, 1)
	}
	if len(b.queue) >= b.opts.MaxQueued {
		b.mu.Unlock()
		return ErrOverloaded
	}
	b.queue = append(b.queue, p)
	if !b.flushing {
		b.flushing = true
		go b.flush()
	}
	b.mu.Unlock()

	t := timers.Get().(*time.Timer)
	t.Reset(wait)
	defer func() {
		t.Stop() // since Go 1.23 a stopped timer's channel holds no stale tick
		timers.Put(t)
	}()
	select {
	case <-p.done:
		return p.Err
	case <-t.C:
		p.abandoned.Store(true)
		return &TimeoutError{Wait: wait}
	case <-cancelled:
		p.abandoned.Store(true)
		return ctx.Err()
	}
}

// Queued reports how many requests wait for a batch.
func (b *Batcher[T, S]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// TimeoutError is Do's error when its caller stopped waiting at its bound
// (the timeout or the request budget) after Wait. It is call.ErrTimeout
// and context.DeadlineExceeded for errors.Is.
type TimeoutError struct{ Wait time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%v (waited %v)", call.ErrTimeout, e.Wait)
}

func (e *TimeoutError) Is(target error) bool {
	return target == call.ErrTimeout || target == context.DeadlineExceeded
}

// flush sends batches until the queue is empty, then exits.
func (b *Batcher[T, S]) flush() {
	b.mu.Lock()
	batch := b.buf[:0] // only one flusher runs at a time
	b.mu.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			clear(batch)
			b.buf = batch[:0]
			b.flushing = false
			b.mu.Unlock()
			return
		}
		batch = append(batch[:0], b.queue[:n]...)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.exec(batch)
	}
}

// exec sends the requests of batch whose callers still wait, bounded by the
// latest of their deadlines plus b.slack, and wakes them.
func (b *Batcher[T, S]) exec(batch []*Pending[T]) {
	live := batch[:0]
	var last time.Time
	for _, p := range batch {
		if p.abandoned.Load() {
			p.done <- struct{}{}
			continue
		}
		live = append(live, p)
		if p.deadline.After(last) {
			last = p.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), last.Add(b.slack))
	defer cancel()
	b.send(ctx, live, &b.flushS)
	for _, p := range live {
		p.done <- struct{}{} // the last use of p: its caller may reuse it
	}
}

// aloneSend is the batch of one and the scratch space of a caller sending
// alone.
type aloneSend[T, S any] struct {
	one     [1]*Pending[T]
	scratch S
}

// sendAlone sends p alone, from its caller's goroutine, bounded by its
// deadline (wait from now) and, unless the batcher is Detached, by ctx. A
// failure is what send makes of it, as for a batch.
func (b *Batcher[T, S]) sendAlone(ctx context.Context, now time.Time, p *Pending[T], wait time.Duration) {
	defer func() { // even when send panics: the slot is free again
		b.mu.Lock()
		b.alone--
		b.mu.Unlock()
	}()
	var sctx context.Context
	if b.opts.Detached {
		// Ends at the deadline only, without a timer of its own; the wait
		// is taken off the budget by Do, not by the call's End.
		sctx = call.Start(ctx, now, wait, nil)
	} else {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(ctx, p.deadline)
		defer cancel()
	}
	a, _ := b.aloneS.Get().(*aloneSend[T, S])
	if a == nil {
		a = new(aloneSend[T, S])
	}
	a.one[0] = p
	b.send(sctx, a.one[:], &a.scratch)
	a.one[0] = nil
	b.aloneS.Put(a)
}
