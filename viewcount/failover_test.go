package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// TestDurableSentinelFailover SIGKILLs the master of a Sentinel deployment
// under load: see durableFailover.
func TestDurableSentinelFailover(t *testing.T) {
	t.Parallel()
	durableFailover(t, redistest.FailoverSentinel(t))
}

// TestDurableClusterFailover SIGKILLs the master of a Redis Cluster that
// holds the first counted item's slot under load: see durableFailover.
func TestDurableClusterFailover(t *testing.T) {
	t.Parallel()
	durableFailover(t, redistest.FailoverCluster(t))
}

// durableFailover kills a master while four goroutines record views into a
// buffered Counter flushing every 20 ms with WaitReplicas 1: after Close,
// the promoted master holds exactly the views recorded, none lost, none
// counted twice. A second Counter without WaitReplicas records the same
// views alongside; what it loses is logged, not asserted (replication is
// asynchronous).
func durableFailover(t *testing.T, topo redistest.Failover) {
	c := topo.Client(t)
	ns := redistest.Prefix(t)
	var notReplicated, otherErrs atomic.Int64
	mk := func(ns string, wait int) *viewcount.Counter {
		v, err := viewcount.New(c, viewcount.Options{
			Secret: testSecret, Namespace: ns, Mode: viewcount.Buffered, DedupWindow: -1,
			FlushInterval: 20 * time.Millisecond, WaitReplicas: wait, WaitTimeout: 300 * time.Millisecond,
			OnError: func(_ context.Context, err error) {
				if wait > 0 && errors.Is(err, viewcount.ErrNotReplicated) {
					notReplicated.Add(1)
				} else if wait > 0 {
					otherErrs.Add(1)
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	durable, plain := mk(ns, 1), mk(ns+"-nowait", 0)
	items := []string{"a", "b", "c"}
	var (
		recorded, plainRecorded atomic.Int64
		recordErrs              atomic.Int64
		stop                    = make(chan struct{})
		wg                      sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				item, visitor := items[i%len(items)], fmt.Sprintf("v%d-%d", w, i)
				if err := durable.Record(ctx, item, visitor); err != nil {
					recordErrs.Add(1)
				} else {
					recorded.Add(1)
				}
				if plain.Record(ctx, item, visitor) == nil {
					plainRecorded.Add(1)
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// Every key of an item is in the slot of its hash tag {<item>}.
	// The promoted master has no replica left: until one attaches, WAIT 1
	// cannot be acknowledged and durable flushes keep their views.
	_, promoted, killed, healthy := topo.Kill("{" + items[0] + "}")
	topo.AddReplica(promoted)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	closeStart := time.Now()
	if err := durable.Close(ctx); err != nil {
		t.Errorf("Close of the durable counter: %v", err)
	}
	closeTook := time.Since(closeStart)
	plainErr := plain.Close(ctx)

	total := func(ns string) int64 {
		r, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		var sum int64
		for _, it := range items {
			cs, err := r.Counts(context.Background(), it, 0)
			if err != nil {
				t.Fatalf("Counts %s: %v", it, err)
			}
			sum += cs.Total
		}
		return sum
	}
	n, got := recorded.Load(), total(ns)
	pn, pgot := plainRecorded.Load(), total(ns+"-nowait")
	t.Logf("healthy %v after the kill; WaitReplicas 1: %d views recorded, %d read from the new master (lost %d, double-counted %d), %d record errors, %d flushes not replicated, %d other errors, Close took %v; without WaitReplicas: %d recorded, %d read (lost %d, double-counted %d; Close: %v)",
		healthy.Sub(killed).Round(time.Millisecond), n, got, max(0, n-got), max(0, got-n), recordErrs.Load(),
		notReplicated.Load(), otherErrs.Load(), closeTook.Round(time.Millisecond), pn, pgot, max(0, pn-pgot), max(0, pgot-pn), plainErr)
	if got != n {
		t.Errorf("durable counter: %d views on the new master, want exactly the %d recorded", got, n)
	}
	if recordErrs.Load() > 0 {
		t.Errorf("%d Record calls failed, want none", recordErrs.Load())
	}
}
