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

	mu     sync.Mutex
	cur    *batch   // views recorded since the last flush began
	queue  []*batch // batches taken for flushing and not yet applied, oldest first
	held   int64    // views in cur and queue
	closed bool

	flushMu sync.Mutex // one flush at a time
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

func newBuffer(c *Counter) *buffer { return &buffer{c: c} }

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
		return nil
	}
	if b.held >= int64(b.c.opts.MaxPending) {
		b.mu.Unlock()
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
	return nil
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
// next flush.
func (b *buffer) flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	if b.cur != nil {
		b.queue = append(b.queue, b.cur)
		b.cur = nil
	}
	queue := b.queue
	b.mu.Unlock()
	if len(queue) == 0 {
		return nil
	}
	start := time.Now()
	info := FlushInfo{}
	var err error
	applied := 0
	var views int64
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
	b.mu.Lock()
	b.queue = b.queue[applied:]
	b.held -= views
	b.mu.Unlock()
	info.Duration, info.Err = time.Since(start), err
	if f := b.c.opts.OnFlush; f != nil {
		f(info)
	}
	if err != nil {
		return fmt.Errorf("viewcount: flush: %w", err)
	}
	return nil
}

// close flushes until everything is applied or ctx is done; what is left
// then is dropped and reported.
func (b *buffer) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	wait := 10 * time.Millisecond
	for {
		err := b.flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			// Wait for a concurrent Flush: it may hold batches it is applying,
			// which are neither lost nor to be dropped under it.
			b.flushMu.Lock()
			b.mu.Lock()
			lost := b.held
			b.queue, b.cur, b.held = nil, nil, 0
			b.mu.Unlock()
			b.flushMu.Unlock()
			if lost == 0 {
				return nil // that Flush applied the rest
			}
			if f := b.c.opts.OnDrop; f != nil {
				f(lost, err)
			}
			return fmt.Errorf("viewcount: close: %d views not flushed: %w", lost, err)
		case <-time.After(wait):
			wait = min(2*wait, time.Second)
		}
	}
}
