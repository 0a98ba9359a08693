package viewcount_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// A stopped master: the cluster answers CLUSTERDOWN. Direct Record returns
// the error; a buffered Counter keeps every view, reports each failed flush
// and, given up on at Close, reports the exact number it drops.
func TestClusterDownBufferedKeepsViews(t *testing.T) {
	t.Parallel()
	srvs, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	var flushErrs, dropped atomic.Int64
	var dropErr, flushErr atomic.Pointer[error] // the first of each
	buf := newCounter(t, rdb, "vc", viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour,
		OnFlush: func(fi viewcount.FlushInfo) {
			if fi.Err != nil {
				flushErrs.Add(1)
				flushErr.CompareAndSwap(nil, &fi.Err)
			}
		},
		OnDrop: func(n int64, err error) { dropped.Add(n); dropErr.CompareAndSwap(nil, &err) }})
	direct := newCounter(t, rdb, "vcd", viewcount.Options{})
	warmUp(t, buf)
	srvs[0].Stop()
	redistest.WaitClusterState(t, addrs[1], "fail")
	for i := range 30 {
		if err := buf.Record(ctx, fmt.Sprint("item", i%10), fmt.Sprint("v", i)); err != nil {
			t.Fatalf("buffered Record with the cluster down: %v", err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	err := direct.Record(dctx, "item1", "v")
	cancel()
	if err == nil {
		t.Fatal("direct Record with the cluster down: got nil, want an error")
	}
	for range 2 {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		err := buf.Flush(fctx)
		cancel()
		if err == nil {
			t.Fatal("Flush with the cluster down: got nil, want an error")
		}
	}
	if flushErrs.Load() != 2 || dropped.Load() != 0 {
		t.Fatalf("got %d failed flushes reported and %d views dropped, want 2 and 0", flushErrs.Load(), dropped.Load())
	}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := buf.Close(cctx); err == nil || dropped.Load() != 30 {
		t.Fatalf("Close with the cluster down: got %v and %d views dropped, want an error and 30", err, dropped.Load())
	}
	if e := dropErr.Load(); e == nil || *e == nil {
		t.Fatal("OnDrop: got no error, want why the views were dropped")
	}
	if e := flushErr.Load(); e == nil || !strings.Contains((*e).Error(), "CLUSTERDOWN") && !strings.Contains((*e).Error(), "connect") {
		t.Fatalf("OnFlush error: got %v, want CLUSTERDOWN or a connection error", e)
	}
}

// An item's slot migrates between masters while views are recorded: MOVED
// and ASK are followed, and the total is exact.
func TestSlotMigrationExactViews(t *testing.T) {
	t.Parallel()
	_, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	c := newCounter(t, rdb, "vc", viewcount.Options{})
	var ok, seq, tryAgain atomic.Int64
	var mu sync.Mutex
	var failed []error
	view := func() {
		err := c.Record(ctx, "mover", fmt.Sprint("v", seq.Add(1)))
		switch {
		case err == nil:
			ok.Add(1)
		case strings.Contains(err.Error(), "TRYAGAIN"): // keys split mid-MIGRATE: nothing applied
			tryAgain.Add(1)
		default:
			mu.Lock()
			failed = append(failed, err)
			mu.Unlock()
		}
	}
	view()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					view()
				}
			}
		})
	}
	redistest.MigrateSlot(t, addrs, core.Slot("vc:{mover}:total"), func() {
		for range 50 {
			view()
		}
	})
	for range 50 {
		view()
	}
	close(stop)
	wg.Wait()
	if s := counts(t, c, "mover", 1); s.Total != ok.Load() || len(failed) > 0 || ok.Load() < 101 {
		t.Fatalf("total %d, want %d (views recorded without error, at least 101); failures other than TRYAGAIN (%d): %v",
			s.Total, ok.Load(), tryAgain.Load(), failed)
	}
}
