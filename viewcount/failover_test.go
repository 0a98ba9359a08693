package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// durableTopology is a deployment a failover test breaks: a core client on
// it and kill, which kills a master (the one holding key's slot, on a
// cluster), waits until the deployment is healthy again and gives the
// promoted master a new replica (it has none left, so WAIT 1 could not be
// acknowledged again; until then durable flushes fail with
// ErrNotReplicated and keep their views). It returns when the master was
// killed and when the deployment was healthy.
type durableTopology struct {
	c    *core.Client
	kill func(key string) (killed, healthy time.Time)
}

func durableSentinel(t *testing.T) durableTopology {
	s := redistest.StartSentinel(t)
	c, err := core.New(core.Config{SentinelAddrs: s.SentinelAddrs, MasterName: s.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return durableTopology{c: c, kill: func(string) (time.Time, time.Time) {
		killed := time.Now()
		master, healthy := s.WaitHealthy(s.KillMaster())
		host, port, _ := net.SplitHostPort(master)
		redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--replicaof", host, port}})
		return killed, healthy
	}}
}

func durableCluster(t *testing.T) durableTopology {
	rc := redistest.StartReplicaCluster(t)
	c, err := core.New(core.Config{ClusterAddrs: rc.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	master := func(key string) string {
		m, err := c.Redis().(*redis.ClusterClient).MasterForKey(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	return durableTopology{c: c, kill: func(key string) (time.Time, time.Time) {
		old := master(key)
		killed := time.Now()
		rc.Kill(old)
		healthy := rc.WaitHealthy()
		// The slot's new master, as a node of the cluster reports it.
		promoted := ""
		for _, s := range clusterSlots(t, rc) {
			if slot := core.Slot(key); slot >= s.Start && slot <= s.End {
				promoted = s.Nodes[0].Addr
			}
		}
		if promoted == "" || promoted == old {
			t.Fatalf("slot of %s: master %q after the failover (killed %s)", key, promoted, old)
		}
		rc.AddReplica(promoted)
		return killed, healthy
	}}
}

// clusterSlots returns CLUSTER SLOTS as the first node of rc that answers
// reports it.
func clusterSlots(t *testing.T, rc *redistest.ReplicaCluster) []redis.ClusterSlot {
	t.Helper()
	for _, a := range rc.Masters() {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		slots, err := rdb.ClusterSlots(context.Background()).Result()
		_ = rdb.Close()
		if err == nil {
			return slots
		}
	}
	t.Fatal("no node answers CLUSTER SLOTS")
	return nil
}

// TestDurableSentinelFailover SIGKILLs the master of a Sentinel deployment
// under load: see durableFailover.
func TestDurableSentinelFailover(t *testing.T) {
	t.Parallel()
	durableFailover(t, durableSentinel(t))
}

// TestDurableClusterFailover SIGKILLs the master of a Redis Cluster that
// holds the first counted item's slot under load: see durableFailover.
func TestDurableClusterFailover(t *testing.T) {
	t.Parallel()
	durableFailover(t, durableCluster(t))
}

// durableFailover kills a master while four goroutines record views into a
// buffered Counter flushing every 20 ms with WaitReplicas 1: after Close,
// the promoted master holds exactly the views recorded, none lost, none
// counted twice. A second Counter without WaitReplicas records the same
// views alongside; what it loses is logged, not asserted (replication is
// asynchronous).
func durableFailover(t *testing.T, topo durableTopology) {
	c := topo.c
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
	killed, healthy := topo.kill("{" + items[0] + "}")
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
