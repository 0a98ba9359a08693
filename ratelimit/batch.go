package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/window"
)

// txBatcher coalesces concurrent fixed-window increments on a standalone
// Redis 7+ into one transaction per round trip:
//
//	MULTI; INCRBY k1 1; PEXPIRE k1 ttl1 NX; INCRBY k2 1; PEXPIRE k2 ttl2 NX; ... EXEC
//
// Each counter gets its increment and its TTL atomically (the whole batch
// is one transaction), at about 0.5 µs of server time per decision against
// about 3 µs for a Lua script. go-redis' AutoPipeliner cannot carry MULTI (it
// diverts it to an unbatched connection), hence this batcher. While one batch
// is in flight the next one fills; a flusher goroutine runs only while there
// is work, so an idle limiter holds no goroutine and needs no Close.
//
// A batch may run only as long as one of its callers still waits for it
// (plus a little slack): its context ends at the latest caller deadline.
// While Redis is unreachable go-redis may spend a long time per batch
// (dial errors, retry backoff); bounding the batch by its callers keeps the
// single sender free, so the first decision after an outage gets through.
type txBatcher struct {
	rdb   redis.UniversalClient
	wait  call.Wait     // nil: waits not reported
	slack time.Duration // how long a batch may outlive its last caller's wait

	mu      sync.Mutex
	queue   []*txReq
	running bool
	buf     []*txReq // the flusher's batch, reused (one flusher at a time)

	unsupported atomic.Bool // the server rejected PEXPIRE NX (Redis < 7)
}

// txReq is one increment waiting for its batch. done is closed when count
// and err are set.
type txReq struct {
	key       string
	ttl       time.Duration
	deadline  time.Time // when the caller stops waiting
	count     int64
	err       error
	done      chan struct{}
	abandoned atomic.Bool // the caller gave up: skip it if not yet sent
}

const maxBatch = 512

// newTxBatcher returns a batcher whose batches outlive their callers' wait
// (timeout) by at most a tenth of it.
// wait, when not nil, gets each caller's wait.
func newTxBatcher(rdb redis.UniversalClient, timeout time.Duration, wait call.Wait) *txBatcher {
	return &txBatcher{rdb: rdb, slack: timeout / 10, wait: wait}
}

// incr queues an increment of key by 1 and waits for it at most timeout,
// or less when ctx's request budget has less left, and takes its wait off
// the budget (the bound of call.Context, computed here without a context: a
// timer is cheaper). errUnsupported reports a server without PEXPIRE NX:
// nothing was changed.
func (b *txBatcher) incr(ctx context.Context, key string, ttl time.Duration, timeout time.Duration) (int64, error) {
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
	if wait <= 0 { // the request's budget is spent: never queue an increment nobody waits for
		return 0, timeoutErr(0, context.DeadlineExceeded)
	}
	deadline := now.Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r := &txReq{key: key, ttl: ttl, deadline: deadline, done: make(chan struct{})}
	b.mu.Lock()
	if len(b.queue) >= maxQueued {
		b.mu.Unlock()
		return 0, ErrOverloaded
	}
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go b.flush()
	}
	b.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.done:
		return r.count, r.err
	case <-t.C:
		r.abandoned.Store(true)
		return 0, timeoutErr(wait, context.DeadlineExceeded)
	case <-ctx.Done():
		r.abandoned.Store(true)
		return 0, ctx.Err()
	}
}

// flush sends batches until the queue is empty, then exits.
func (b *txBatcher) flush() {
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

// exec sends the requests of batch whose callers still wait, as one
// transaction bounded by the latest of their deadlines plus b.slack.
func (b *txBatcher) exec(batch []*txReq) {
	live := batch[:0]
	var last time.Time
	for _, r := range batch {
		if r.abandoned.Load() {
			close(r.done)
			continue
		}
		live = append(live, r)
		if r.deadline.After(last) {
			last = r.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), last.Add(b.slack))
	defer cancel()
	incrs := make([]*redis.IntCmd, len(live))
	var pexpire *redis.Cmd
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range live {
			var expire *redis.Cmd
			incrs[i], expire = window.Queue(ctx, p, r.key, 1, r.ttl)
			if i == 0 {
				pexpire = expire
			}
		}
		return nil
	})
	if err != nil && window.NXUnsupported(pexpire.Err()) {
		b.unsupported.Store(true)
		err = errUnsupported
	}
	for i, r := range live {
		r.count, r.err = incrs[i].Val(), incrs[i].Err()
		if err != nil {
			r.err = err
		}
		if r.err != nil {
			r.err = wrapRedis(r.err)
		}
		close(r.done)
	}
}
