package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/call"
)

// batcher coalesces concurrent decisions into batches that share one round
// trip. While one batch is in flight the next one fills; a flusher
// goroutine runs only while there is work, so an idle limiter holds no
// goroutine and needs no Close. send, which knows the Redis side (a
// transaction of increments, or one script call deciding many keys), is
// only ever called by the flusher, one batch at a time.
//
// Each caller waits for its own decision at most its Timeout, or less when
// its request budget has less left (call.Context's bound, computed without
// a context: a timer is cheaper), and a caller who gave up before its
// batch was sent is left out of it. A batch may run only as long as one of
// its callers still waits for it (plus a little slack): its context ends at
// the latest caller deadline. While Redis is unreachable go-redis may spend
// a long time per batch (dial errors, retry backoff); bounding the batch by
// its callers keeps the single sender free, so the first decision after an
// outage gets through.
type batcher[T any] struct {
	send  func(ctx context.Context, batch []*pending[T]) // sets each request's reply or err
	wait  call.Wait                                      // nil: waits not reported
	slack time.Duration                                  // how long a batch may outlive its last caller's wait

	free sync.Pool // of *pending[T] whose callers got their reply: reused

	mu      sync.Mutex
	queue   []*pending[T]
	running bool
	buf     []*pending[T] // the flusher's batch, reused (one flusher at a time)
}

// pending is one decision waiting for its batch: req holds the request and,
// once done has been signalled (it has room for the one signal, so the
// flusher never blocks), the reply (or err is set).
type pending[T any] struct {
	req       T
	err       error
	deadline  time.Time // when the caller stops waiting
	done      chan struct{}
	abandoned atomic.Bool // the caller gave up: skip it if not yet sent
}

// get returns a pending decision to fill and pass to do, reused from an
// earlier decision when one was released: a decision would otherwise
// allocate the pending and its channel.
func (b *batcher[T]) get() *pending[T] {
	if p, ok := b.free.Get().(*pending[T]); ok {
		return p
	}
	return &pending[T]{done: make(chan struct{}, 1)}
}

// release gives p back for reuse once its caller has read the reply. A
// decision whose caller gave up is left to the garbage collector: its
// batch may still be running and signal it.
func (b *batcher[T]) release(p *pending[T]) {
	if p.abandoned.Load() {
		return
	}
	var zero T
	p.req, p.err, p.deadline = zero, nil, time.Time{}
	b.free.Put(p)
}

const maxBatch = 512

// timers holds stopped timers for the waits of batcher.do: a decision
// would otherwise allocate one.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// newBatcher returns a batcher whose batches outlive their callers' wait
// (timeout) by at most a tenth of it. wait, when not nil, gets each
// caller's wait.
func newBatcher[T any](timeout time.Duration, wait call.Wait, send func(context.Context, []*pending[T])) *batcher[T] {
	return &batcher[T]{send: send, wait: wait, slack: timeout / 10}
}

// do queues p (from get) and waits for its batch at most timeout (or the
// request budget, or ctx), and takes its wait off the budget. On success
// p.req holds the reply; the caller then releases p.
func (b *batcher[T]) do(ctx context.Context, p *pending[T], timeout time.Duration) error {
	now := time.Now()
	wait := timeout
	bud := budget.From(ctx)
	if bud != nil {
		wait = min(wait, bud.Left())
	}
	if bud != nil || b.wait != nil {
		defer func() {
			d := time.Since(now)
			if bud != nil {
				bud.Spend(d)
			}
			if b.wait != nil {
				b.wait(ctx, d)
			}
		}()
	}
	if err := ctx.Err(); err != nil { // the caller is gone: never queue a decision nobody waits for
		return err
	}
	if wait <= 0 { // the request's budget is spent: the same
		return timeoutErr(0, context.DeadlineExceeded)
	}
	p.deadline = now.Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(p.deadline) {
		p.deadline = d
	}
	b.mu.Lock()
	if len(b.queue) >= maxQueued {
		b.mu.Unlock()
		return ErrOverloaded
	}
	b.queue = append(b.queue, p)
	if !b.running {
		b.running = true
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
		return p.err
	case <-t.C:
		p.abandoned.Store(true)
		return timeoutErr(wait, context.DeadlineExceeded)
	case <-ctx.Done():
		p.abandoned.Store(true)
		return ctx.Err()
	}
}

// flush sends batches until the queue is empty, then exits.
func (b *batcher[T]) flush() {
	b.mu.Lock()
	batch := b.buf[:0] // only one flusher runs at a time
	b.mu.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			clear(batch)
			b.buf = batch[:0]
			b.running = false
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
func (b *batcher[T]) exec(batch []*pending[T]) {
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
	b.send(ctx, live)
	for _, p := range live {
		p.done <- struct{}{} // the last use of p: its caller may reuse it
	}
}
