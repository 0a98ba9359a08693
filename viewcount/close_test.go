package viewcount_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// startSignal closes started at the first pipeline it sees once armed.
type startSignal struct {
	armed   atomic.Bool
	once    sync.Once
	started chan struct{}
}

func (h *startSignal) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *startSignal) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *startSignal) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.armed.Load() && len(cmds) > 0 && !internalCmd(cmds[0]) {
			h.once.Do(func() { close(h.started) })
		}
		return next(ctx, cmds)
	}
}

// With Redis black-holed and the flush loop's flush stuck in a socket read,
// Close returns soon after its ctx ends (it neither waits for that read nor
// lets the loop start another flush), and every view not counted is
// reported to OnDrop exactly once: those the stuck flush holds when it
// gives up, after Close.
func TestCloseBoundedByCtxWhileBlackholed(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	p := faultproxy.New(t, srv.Addr())
	cc, err := core.New(core.Config{URL: "redis://" + p.Addr(), ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	sig := &startSignal{started: make(chan struct{})}
	cc.Redis().AddHook(sig)
	var dropped, drops atomic.Int64
	c := newCounter(t, cc.Redis(), redistest.Prefix(t), viewcount.Options{Mode: viewcount.Buffered,
		FlushInterval: 10 * time.Millisecond,
		OnDrop:        func(n int64, _ error) { dropped.Add(n); drops.Add(1) }})
	ctx := context.Background()
	if err := c.Record(ctx, "warm", "v"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil { // connection and scripts ready
		t.Fatal(err)
	}
	p.Blackhole()
	sig.armed.Store(true)
	const views = 5
	for i := range views {
		if err := c.Record(ctx, "p", fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sig.started: // the loop's flush is on its way into the black hole
	case <-time.After(5 * time.Second):
		t.Fatal("no flush started within 5s of recording")
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.Close(cctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close with a 300ms ctx took %v, want at most 1s", took.Round(time.Millisecond))
	}
	if err == nil {
		t.Error("Close with Redis black-holed: got nil error, want the unflushed views reported")
	}
	deadline := time.Now().Add(5 * time.Second) // the stuck read ends at ReadTimeout (2s)
	for dropped.Load() < views && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Flush(ctx); err != nil { // nothing is left to send
		t.Fatalf("Flush after Close: got %v, want nil", err)
	}
	if got := dropped.Load(); got != views {
		t.Fatalf("got %d views reported dropped (in %d reports), want %d (Close error: %v)", got, drops.Load(), views, err)
	}
}

// With Redis up, Close flushes every view recorded, even while the loop
// flushes every few milliseconds, and reports nothing dropped.
func TestCloseFlushesEverything(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		var dropped atomic.Int64
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{Mode: viewcount.Buffered,
			FlushInterval: 2 * time.Millisecond, OnDrop: func(n int64, _ error) { dropped.Add(n) }})
		const writers, each = 4, 100
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := c.Record(context.Background(), fmt.Sprint("p", i%3), fmt.Sprint("v", w, "-", i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		closeCounter(t, c)
		var total int64
		for i := range 3 {
			total += counts(t, c, fmt.Sprint("p", i), 1).Total
		}
		if total != writers*each || dropped.Load() != 0 {
			t.Fatalf("after Close: got %d views counted and %d dropped, want %d and 0", total, dropped.Load(), writers*each)
		}
	})
}

// blockSecond fails the first pipeline it sees (as an outage would) and
// holds the second until release is closed, after calling entered; then
// it sends it, or fails it too if failHeld.
type blockSecond struct {
	n        atomic.Int64
	entered  func()
	release  chan struct{}
	failHeld bool
}

func (h *blockSecond) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *blockSecond) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}

func (h *blockSecond) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && internalCmd(cmds[0]) {
			return next(ctx, cmds)
		}
		n := h.n.Add(1)
		if n == 2 {
			h.entered()
			<-h.release
		}
		if n == 1 || n == 2 && h.failHeld {
			for _, c := range cmds {
				c.SetErr(errInjected)
			}
			return errInjected
		}
		return next(ctx, cmds)
	}
}

// A Flush still sending when Close gives up (its ctx ends during an
// outage) keeps its batch: Close returns at once without counting it as
// dropped, and the Flush either applies it (counted, not dropped) or
// reports it to OnDrop (dropped, not counted); never both, never neither.
func TestCloseGivingUpDuringConcurrentFlush(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("flush fails=", fail), func(t *testing.T) {
			t.Parallel()
			testCloseGivingUpDuringConcurrentFlush(t, fail)
		})
	}
}

func testCloseGivingUpDuringConcurrentFlush(t *testing.T, fail bool) {
	rdb := redistest.NewClient(t, redistest.StandaloneTarget(t))
	closeCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	flushed := make(chan error, 1)
	hook := &blockSecond{release: make(chan struct{}), failHeld: fail}
	var c *viewcount.Counter
	hook.entered = giveUp // the concurrent Flush holds its batch: Close's ctx ends now
	rdb.AddHook(hook)
	var dropped atomic.Int64
	c = newCounter(t, rdb, redistest.Prefix(t), viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour,
		OnDrop: func(n int64, _ error) { dropped.Add(n) },
		OnFlush: func(fi viewcount.FlushInfo) {
			if fi.Err != nil && hook.n.Load() == 1 { // Close's first attempt failed: Flush joins in
				go func() { flushed <- c.Flush(context.Background()) }()
			}
		}})
	if err := c.Record(context.Background(), "p", "v"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close(closeCtx) }()
	<-closeCtx.Done()
	var closeErr error
	select {
	case closeErr = <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s of its ctx ending while a Flush held the batch")
	}
	if closeErr == nil || dropped.Load() != 0 {
		t.Fatalf("Close while a Flush holds the batch: got error %v and %d dropped, want an error and 0", closeErr, dropped.Load())
	}
	close(hook.release)
	if err := <-flushed; (err != nil) != fail {
		t.Fatalf("concurrent Flush: got %v, want an error: %v", err, fail)
	}
	want, wantDropped := int64(1), int64(0)
	if fail {
		want, wantDropped = 0, 1
	}
	if s := counts(t, c, "p", 1); s.Total != want || dropped.Load() != wantDropped {
		t.Fatalf("got total %d, dropped %d, want %d, %d", s.Total, dropped.Load(), want, wantDropped)
	}
}
