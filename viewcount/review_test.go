package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// A Redis error on one read of Stats (here WRONGTYPE on the HyperLogLog) is
// returned, not turned into a zero, even when other keys are missing.
func TestStatsReturnsPerCommandErrors(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{})
		if err := tc.RDB.Set(ctx, tc.Prefix+":{p}:uniq", "not a hyperloglog", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if s, err := c.Stats(ctx, "p", 1); err == nil || errors.Is(err, redis.Nil) {
			t.Fatalf("Stats with a wrong-type uniq key: got (%+v, %v), want a WRONGTYPE error", s, err)
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
	if s := stats(t, c, "p", 1); s.Total != want || dropped.Load() != wantDropped {
		t.Fatalf("got total %d, dropped %d, want %d, %d", s.Total, dropped.Load(), want, wantDropped)
	}
}
