package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

func TestBufferedConcurrentWritersExactTotals(t *testing.T) {
	t.Parallel()
	const writers, perWriter, items = 64, 300, 10
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		for _, dedup := range []bool{true, false} {
			t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
				ctx := context.Background()
				opts := viewcount.Options{Mode: viewcount.Buffered, FlushInterval: 5 * time.Millisecond}
				if !dedup {
					opts.DedupWindow = -1
				}
				var flushes atomic.Int64
				opts.OnFlush = func(fi viewcount.FlushInfo) {
					if fi.Err == nil {
						flushes.Add(1)
					}
				}
				c := newCounter(t, tc.RDB, fmt.Sprintf("%s:%v", tc.Prefix, dedup), opts)
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := range perWriter {
							// Each writer is one visitor reloading every item many times.
							if err := c.Record(ctx, fmt.Sprint("item-", i%items), fmt.Sprint("w", w)); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				closeCounter(t, c)
				want := int64(writers * perWriter / items)
				if dedup {
					want = writers // one view per visitor and item inside the window
				}
				for i := range items {
					if s := counts(t, c, fmt.Sprint("item-", i), 1); s.Total != want || s.Today != want {
						t.Fatalf("item-%d: got total %d today %d, want %d", i, s.Total, s.Today, want)
					}
				}
				top, err := c.Top(ctx, items, time.Hour)
				if err != nil || len(top) != items || top[0].Views != want || top[items-1].Views != want {
					t.Fatalf("Top: got %v, %v, want %d items of %d views", top, err, items, want)
				}
				if flushes.Load() < 2 {
					t.Logf("only %d successful flushes: writers outran the interval", flushes.Load())
				}
			})
		}
	})
}

// A flush whose reply is lost (applied or not) is retried with the same
// batch; markers make Redis apply each chunk once.
func TestRetriedFlushNeverAppliesTwice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		failPipe int64 // which pipeline fails: 1 = items, 2 = rankings
		applied  bool  // whether it reached Redis before failing
		dedup    bool
	}{
		{"items lost reply", 1, true, true},
		{"items lost reply no dedup", 1, true, false},
		{"items not sent", 1, false, true},
		{"rankings lost reply", 2, true, true},
		{"rankings lost reply no dedup", 2, true, false},
		{"rankings not sent", 2, false, false},
	}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		for ci, cs := range cases {
			t.Run(cs.name, func(t *testing.T) {
				ctx := context.Background()
				rdb := redistest.NewClient(t, tc.Target)
				var armed atomic.Bool
				hook := &roundTrips{fail: func(n int64) (bool, bool) { return armed.Load() && n == cs.failPipe, cs.applied }}
				rdb.AddHook(hook)
				var failed atomic.Int64
				opts := viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour, OnFlush: func(fi viewcount.FlushInfo) {
					if fi.Err != nil {
						failed.Add(1)
					}
				}}
				if !cs.dedup {
					opts.DedupWindow = -1
				}
				c := newCounter(t, rdb, fmt.Sprint(tc.Prefix, ":", ci), opts)
				warmUp(t, c) // scripts cached on every node: pipelines below are the flush's own
				hook.pipe.Store(0)
				armed.Store(true)
				for i := range 200 {
					if err := c.Record(ctx, fmt.Sprint("p", i%20), fmt.Sprint("v", i)); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Flush(ctx); err == nil {
					t.Fatal("first Flush: got nil error, want the injected failure")
				}
				if err := c.Record(ctx, "p0", "late"); err != nil { // joins a new batch
					t.Fatal(err)
				}
				if err := c.Flush(ctx); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if failed.Load() != 1 {
					t.Fatalf("got %d failed flushes reported, want 1", failed.Load())
				}
				for i := range 20 {
					want := int64(10 + map[bool]int64{true: 1}[i == 0])
					if s := counts(t, c, fmt.Sprint("p", i), 1); s.Total != want || s.Unique != want {
						t.Fatalf("p%d: got total %d unique %d, want %d", i, s.Total, s.Unique, want)
					}
				}
				top, err := c.Top(ctx, 2, 24*time.Hour)
				if err != nil || len(top) != 2 || top[0] != (viewcount.Ranked{Item: "p0", Views: 11}) || top[1].Views != 10 {
					t.Fatalf("Top: got %v, %v, want [{p0 11} {p… 10}]", top, err)
				}
			})
		}
	})
}

// warmUp flushes one view of item "warm-up" so the flush scripts are loaded.
func warmUp(t *testing.T, c *viewcount.Counter) {
	t.Helper()
	if err := c.Record(context.Background(), "warm-up", "v"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("warm-up Flush: %v", err)
	}
}

// Redis dies in the middle of a flush (after applying it, before the reply)
// and comes back with its append-only file: the retry neither loses nor
// double-counts views, including those recorded while it was down.
func TestRedisStoppedDuringFlush(t *testing.T) {
	t.Parallel()
	for _, dedup := range []bool{true, false} {
		t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
			t.Parallel()
			testRedisStoppedDuringFlush(t, dedup)
		})
	}
}

func testRedisStoppedDuringFlush(t *testing.T, dedup bool) {
	srv := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	rdb := srv.Client(t, &redis.Options{DialerRetries: 1, MaxRetries: -1})
	var armed atomic.Bool
	hook := &roundTrips{
		fail: func(n int64) (bool, bool) { return armed.Load() && n == 1, true },
		// The pipeline was applied and fsynced; the server dies before the reply.
		afterSend: srv.Stop,
	}
	rdb.AddHook(hook)
	var errs atomic.Int64
	opts := viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour,
		OnFlush: func(fi viewcount.FlushInfo) {
			if fi.Err != nil {
				errs.Add(1)
			}
		}}
	if !dedup {
		opts.DedupWindow = -1
	}
	c := newCounter(t, rdb, redistest.Prefix(t), opts)
	warmUp(t, c)
	hook.pipe.Store(0)
	armed.Store(true)
	ctx := context.Background()
	record := func(from, to int) {
		for i := from; i < to; i++ {
			if err := c.Record(ctx, fmt.Sprint("p", i%3), fmt.Sprint("v", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(0, 30)
	if err := c.Flush(ctx); err == nil { // the server stops while this pipeline is in flight
		t.Fatal("Flush that lost its reply: got nil error, want one")
	}
	record(30, 60)
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush with Redis down: got nil error, want one")
	}
	srv.Restart() // reloads the append-only file: the first batch is there
	closeCounter(t, c)
	for i := range 3 {
		if s := counts(t, c, fmt.Sprint("p", i), 1); s.Total != 20 || s.Unique != 20 {
			t.Fatalf("p%d: got total %d unique %d, want 20 20", i, s.Total, s.Unique)
		}
	}
	if top, err := c.Top(ctx, 3, time.Hour); err != nil || len(top) != 3 || top[0].Views != 20 || top[2].Views != 20 {
		t.Fatalf("Top: got %v, %v, want 3 items of 20 views", top, err)
	}
	if errs.Load() < 2 {
		t.Fatalf("got %d failed flushes reported, want at least 2", errs.Load())
	}
}

func TestBufferBoundDropsAreReported(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{DialerRetries: 1, MaxRetries: -1})
	srv.Stop()
	var dropped atomic.Int64
	c := newCounter(t, rdb, redistest.Prefix(t), viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour,
		MaxPending: 10, OnDrop: func(n int64, err error) { dropped.Add(n) }})
	ctx := context.Background()
	var full int
	for i := range 15 {
		if err := c.Record(ctx, "p", fmt.Sprint("v", i)); errors.Is(err, viewcount.ErrBufferFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full != 5 || dropped.Load() != 5 {
		t.Fatalf("got %d ErrBufferFull and %d dropped, want 5 and 5", full, dropped.Load())
	}
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush with Redis down: got nil error, want one")
	}
	// The failed batch stays held: still no room.
	if err := c.Record(ctx, "p", "another"); !errors.Is(err, viewcount.ErrBufferFull) {
		t.Fatalf("Record after failed flush: got %v, want ErrBufferFull", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Close(cctx); err == nil {
		t.Fatal("Close with Redis down: got nil error, want one")
	}
	if got := dropped.Load(); got != 16 {
		t.Fatalf("got %d views reported dropped, want 16 (6 over the bound, 10 unflushed at Close)", got)
	}
	if err := c.Record(ctx, "p", "v"); !errors.Is(err, viewcount.ErrClosed) {
		t.Fatalf("Record after Close: got %v, want ErrClosed", err)
	}
}
