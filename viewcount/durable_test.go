package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// replicate makes replica a replica of master and waits until it is in
// sync and the master counts it.
func replicate(t *testing.T, master, replica *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(master.Addr())
	r, m := replica.Client(t, nil), master.Client(t, nil)
	if err := r.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ri, _ := r.Info(ctx, "replication").Result()
		mi, _ := m.Info(ctx, "replication").Result()
		if strings.Contains(ri, "master_link_status:up") && strings.Contains(mi, "connected_slaves:1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after 10s:\n%s\n%s", ri, mi)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// record records views of items a and b by distinct visitors.
func recordViews(t *testing.T, c *viewcount.Counter, prefix string, n int) {
	t.Helper()
	for i := range n {
		item := []string{"a", "b"}[i%2]
		if err := c.Record(context.Background(), item, fmt.Sprintf("%s-%d", prefix, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// A durable flush (WaitReplicas 1) on a master with a replica succeeds, and
// the replica holds every view the moment Flush returns.
func TestDurableFlushReplicated(t *testing.T) {
	t.Parallel()
	master := redistest.StartServer(t, redistest.ServerOptions{})
	replica := redistest.StartServer(t, redistest.ServerOptions{})
	replicate(t, master, replica)
	c := newCounter(t, master.Client(t, nil), "durable", viewcount.Options{Mode: viewcount.Buffered,
		FlushInterval: time.Hour, WaitReplicas: 1, WaitTimeout: 5 * time.Second})
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	onReplica := newCounter(t, replica.Client(t, nil), "durable", viewcount.Options{})
	for round := range 3 {
		recordViews(t, c, fmt.Sprint("r", round), 100)
		if err := c.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		for _, item := range []string{"a", "b"} {
			if got, want := counts(t, onReplica, item, 0).Total, int64(50*(round+1)); got != want {
				t.Fatalf("round %d, replica, item %s: total %d, want %d", round, item, got, want)
			}
		}
		top, err := onReplica.Top(context.Background(), 2, time.Hour)
		if err != nil || len(top) != 2 || top[0].Views != int64(50*(round+1)) || top[1].Views != int64(50*(round+1)) {
			t.Fatalf("round %d, replica Top: %+v, %v", round, top, err)
		}
	}
	if st := c.Stats(); st.FlushErrors != 0 || st.Pending != 0 {
		t.Fatalf("Stats %+v: want no flush errors, nothing pending", st)
	}
}

// On a master without a replica a durable flush fails with
// ErrNotReplicated and keeps its views; once a replica attaches, the retry
// succeeds and every view is counted exactly once, on both servers.
func TestDurableFlushRetriesUntilReplicated(t *testing.T) {
	t.Parallel()
	master := redistest.StartServer(t, redistest.ServerOptions{})
	c := newCounter(t, master.Client(t, nil), "durable", viewcount.Options{Mode: viewcount.Buffered,
		FlushInterval: time.Hour, WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond, OnError: func(context.Context, error) {}})
	recordViews(t, c, "v", 100)
	for range 2 {
		err := c.Flush(context.Background())
		if !errors.Is(err, viewcount.ErrNotReplicated) {
			t.Fatalf("Flush without a replica: %v, want ErrNotReplicated", err)
		}
		if st := c.Stats(); st.Pending != 100 || st.Dropped != 0 {
			t.Fatalf("after a failed durable flush: Stats %+v, want 100 pending, none dropped", st)
		}
	}
	recordViews(t, c, "w", 10) // a later batch queues behind the kept one
	replica := redistest.StartServer(t, redistest.ServerOptions{})
	replicate(t, master, replica)
	// With a replica the flush succeeds, at the latest on a retry (a
	// replica may ack later than WaitTimeout on a loaded machine; a retry
	// never counts twice).
	redistest.Eventually(t, 10*time.Second, "a durable flush with a replica", func() bool {
		return c.Flush(context.Background()) == nil
	})
	onReplica := newCounter(t, replica.Client(t, nil), "durable", viewcount.Options{})
	for _, cc := range []*viewcount.Counter{c, onReplica} {
		for _, item := range []string{"a", "b"} {
			if got := counts(t, cc, item, 0); got.Total != 55 || got.Today != 55 {
				t.Fatalf("item %s: %+v, want 55 views (counted once)", item, got)
			}
		}
		top, err := cc.Top(context.Background(), 2, time.Hour)
		if err != nil || len(top) != 2 || top[0].Views != 55 || top[1].Views != 55 {
			t.Fatalf("Top: %+v, %v: want 55 views each", top, err)
		}
	}
	if st := c.Stats(); st.Pending != 0 || st.Counted != 110 || st.Dropped != 0 {
		t.Fatalf("Stats %+v: want 110 counted, nothing pending or dropped", st)
	}
}

// WaitReplicas is for a standalone server or a Sentinel master.
func TestDurableOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []viewcount.Options{{WaitReplicas: -1}, {WaitReplicas: 1, WaitTimeout: -time.Second}} {
		o.Secret = testSecret
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
		t.Cleanup(func() { _ = rdb.Close() })
		if _, err := viewcount.New(core.NewFromRedis(rdb), o); !errors.Is(err, viewcount.ErrInvalidOptions) {
			t.Fatalf("New(WaitReplicas %d, WaitTimeout %v): %v, want ErrInvalidOptions", o.WaitReplicas, o.WaitTimeout, err)
		}
	}
}
