package viewcount_test

import (
	"context"
	"errors"
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
// holds the second until release is closed, after calling entered.
type blockSecond struct {
	n       atomic.Int64
	entered func()
	release chan struct{}
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
		switch h.n.Add(1) {
		case 1:
			for _, c := range cmds {
				c.SetErr(errInjected)
			}
			return errInjected
		case 2:
			h.entered()
			<-h.release
		}
		return next(ctx, cmds)
	}
}

// A Flush that runs while Close gives up (its ctx ends during an outage)
// must neither panic nor count views Close reported as dropped.
func TestCloseGivingUpDuringConcurrentFlush(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	rdb := redistest.NewClient(t, target)
	closeCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	flushed := make(chan error, 1)
	hook := &blockSecond{release: make(chan struct{})}
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
	case closeErr = <-closed: // Close returned while the Flush still held the batch
	case <-time.After(200 * time.Millisecond): // Close waits for the Flush (bounded check)
	}
	close(hook.release)
	if err := <-flushed; err != nil {
		t.Fatalf("concurrent Flush: got %v, want nil", err)
	}
	if closeErr == nil {
		closeErr = <-closed
	}
	s := stats(t, c, "p", 1)
	if s.Total != 1 || dropped.Load() != 0 || closeErr != nil {
		t.Fatalf("got total %d, dropped %d, Close error %v; want 1, 0, nil", s.Total, dropped.Load(), closeErr)
	}
}
