package viewcount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// buffer aggregates the views of a Buffered Counter between flushes.
type buffer struct {
	c *Counter

	mu        sync.Mutex
	cur       *batch   // views recorded since the last flush began
	queue     []*batch // batches taken for flushing and not yet applied, oldest first
	held      int64    // views in cur and queue
	inFlight  bool     // a flush is sending queue (which then only it changes)
	closed    bool     // Record refused
	abandoned bool     // Close gave up: a flush drops and reports what it fails to send

	flushing chan struct{} // holds a token while a flush runs: one at a time
}

// batch is a set of views flushed together under one id. Once taken for
// flushing it never changes, so every retry sends the same increments under
// the same markers and Redis applies each chunk at most once.
type batch struct {
	id       string
	times    []buckets // distinct time buckets of the views
	aggs     map[aggKey]*agg
	views    int64
	attempts int
	plan     *plan // built on the first attempt
}

type aggKey struct {
	item string
	time uint8 // index into batch.times
}

type agg struct {
	visitors map[[16]byte]int64 // visitor digest -> views
	bots     int64
}

func newBuffer(c *Counter) *buffer { return &buffer{c: c, flushing: make(chan struct{}, 1)} }

func newBatch() *batch {
	var id [12]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	return &batch{id: hex.EncodeToString(id[:]), aggs: make(map[aggKey]*agg)}
}

// add holds one view. A repeat view of an item by a visitor already in the
// current batch is a duplicate (when dedup is on) and is not held at all;
// Redis decides about repeats across batches at flush time.
func (b *buffer) add(item string, visitor [16]byte, bot bool) error {
	t := b.c.bucketsAt(b.c.opts.Now())
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.cur == nil {
		b.cur = newBatch()
	}
	bt := b.cur
	k := aggKey{item: item, time: bt.timeIndex(t)}
	a := bt.aggs[k]
	if a != nil && !bot && b.c.opts.DedupWindow > 0 && a.visitors[visitor] > 0 {
		b.mu.Unlock()
		b.c.stats.recorded.Add(1)
		b.c.stats.deduplicated.Add(1)
		return nil
	}
	if b.held >= int64(b.c.opts.MaxPending) {
		b.mu.Unlock()
		b.c.stats.dropped.Add(1)
		if f := b.c.opts.OnDrop; f != nil {
			f(1, ErrBufferFull)
		}
		return fmt.Errorf("viewcount: record %q: %w", item, ErrBufferFull)
	}
	if a == nil {
		a = &agg{visitors: make(map[[16]byte]int64)}
		bt.aggs[k] = a
	}
	if bot {
		a.bots++
	} else {
		a.visitors[visitor]++
	}
	bt.views++
	b.held++
	b.mu.Unlock()
	if bot {
		b.c.stats.bots.Add(1)
	} else {
		b.c.stats.recorded.Add(1)
	}
	return nil
}

// pending returns the views held now.
func (b *buffer) pending() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// timeIndex returns the index of t in bt.times, adding it if new. A batch
// spans about one flush interval, so it rarely holds more than two.
func (bt *batch) timeIndex(t buckets) uint8 {
	for i := len(bt.times) - 1; i >= 0; i-- {
		if bt.times[i] == t {
			return uint8(i)
		}
	}
	if len(bt.times) == 255 { // a clock jumping around: fold into the last
		return 254
	}
	bt.times = append(bt.times, t)
	return uint8(len(bt.times) - 1)
}

// flush applies the queued batches, oldest first, then the current one. It
// stops at the first batch that fails, keeping it and the later ones for the
// next flush. Waiting for another flush to end is bounded by ctx.
func (b *buffer) flush(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("viewcount: flush: %w", err)
	}
	select {
	case b.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("viewcount: flush: %w", ctx.Err())
	}
	defer func() { <-b.flushing }()
	b.mu.Lock()
	if b.cur != nil {
		b.queue = append(b.queue, b.cur)
		b.cur = nil
	}
	queue := b.queue
	b.inFlight = len(queue) > 0
	b.mu.Unlock()
	if len(queue) == 0 {
		b.c.stats.lastFlush.Store(time.Now().UnixNano())
		return nil
	}
	if o := b.c.obs; o != nil {
		var end func(error)
		ctx, end = o.Start(ctx, "viewcount", "flush")
		defer func() { end(err) }()
	}
	start := time.Now()
	info, applied, views, err := b.send(ctx, queue)
	if b.c.wait != nil {
		b.c.wait(ctx, time.Since(start))
	}
	b.mu.Lock()
	b.queue = b.queue[min(applied, len(b.queue)):]
	b.held -= views
	b.inFlight = false
	var lost int64
	if b.abandoned { // nobody retries after Close: what failed is lost
		lost = b.held
		b.queue, b.cur, b.held = nil, nil, 0
	}
	b.mu.Unlock()
	info.Duration, info.Err = time.Since(start), err
	b.c.stats.flushes.Add(1)
	b.c.stats.flushed.Add(views)
	if err != nil {
		b.c.stats.flushErrors.Add(1)
	} else {
		b.c.stats.lastFlush.Store(time.Now().UnixNano())
	}
	if f := b.c.opts.OnFlush; f != nil {
		f(info)
	}
	switch {
	case lost > 0:
		b.dropped(ctx, lost, fmt.Errorf("viewcount: flush after Close gave up: %w", err))
	case err != nil:
		b.c.report(ctx, fmt.Errorf("viewcount: flush of %d views failed, kept for retry: %w", info.Views, err))
	}
	if err != nil {
		return fmt.Errorf("viewcount: flush: %w", err)
	}
	return nil
}

// send applies queue's batches in order until one fails; it returns how
// many were applied and their views.
func (b *buffer) send(ctx context.Context, queue []*batch) (info FlushInfo, applied int, views int64, err error) {
	for _, bt := range queue {
		info.Views += bt.views
		info.Retry = info.Retry || bt.attempts > 0
		bt.attempts++
		var n int
		n, err = b.c.apply(ctx, bt)
		info.Commands += n
		if err != nil {
			break
		}
		applied++
		views += bt.views
	}
	return info, applied, views, err
}

func (b *buffer) markClosed() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// close flushes until everything is applied or ctx is done; what is left
// then is dropped and reported.
func (b *buffer) close(ctx context.Context) error {
	wait := 10 * time.Millisecond
	for {
		err := b.flush(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return b.giveUp(ctx, err)
		case <-t.C:
			wait = min(2*wait, time.Second)
		}
	}
}

// giveUp drops the views no flush is sending and reports them; a flush
// still sending (a concurrent Flush, or the loop's, in a Redis call that
// cannot be interrupted) keeps its batches, which are neither lost nor
// applied yet: it reports those it fails to send when it returns.
func (b *buffer) giveUp(ctx context.Context, err error) error {
	b.mu.Lock()
	b.abandoned = true
	var sending int64
	if b.inFlight {
		for _, bt := range b.queue {
			sending += bt.views
		}
	} else {
		b.queue = nil
	}
	lost := b.held - sending
	b.cur, b.held = nil, sending
	b.mu.Unlock()
	if lost > 0 {
		b.dropped(ctx, lost, err)
	}
	switch {
	case sending > 0:
		return fmt.Errorf("viewcount: close: %d views not flushed, %d more in a flush still waiting for Redis "+
			"(reported to OnDrop if it fails): %w", lost, sending, err)
	case lost > 0:
		return fmt.Errorf("viewcount: close: %d views not flushed: %w", lost, err)
	}
	return nil // a concurrent Flush applied the rest
}

// dropped reports n views lost by a flush or Close to OnDrop, if set, and
// to OnError.
func (b *buffer) dropped(ctx context.Context, n int64, err error) {
	b.c.stats.dropped.Add(n)
	if f := b.c.opts.OnDrop; f != nil {
		f(n, err)
	}
	b.c.report(ctx, fmt.Errorf("viewcount: %d views dropped: %w", n, err))
}
