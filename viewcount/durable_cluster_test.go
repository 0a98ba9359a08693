package viewcount_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// addClusterReplica starts a cluster node, joins it to master's cluster
// and makes it master's replica, in sync.
func addClusterReplica(t *testing.T, master *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	r := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "500"}})
	rc, mc := r.Client(t, nil), master.Client(t, nil)
	id, err := mc.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(master.Addr())
	if err := rc.ClusterMeet(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, _ := rc.ClusterNodes(ctx).Result()
		if strings.Contains(nodes, id) && rc.ClusterReplicate(ctx, id).Err() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica of %s: not joined within 10s", master.Addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		ri, _ := rc.Info(ctx, "replication").Result()
		mi, _ := mc.Info(ctx, "replication").Result()
		if strings.Contains(ri, "master_link_status:up") && strings.Contains(mi, "connected_slaves:1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica of %s not in sync within 10s", master.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On a cluster a durable flush WAITs on every master it wrote to: without
// replicas it fails and keeps the views; once each master has a replica the
// retry succeeds, each view counted once.
func TestDurableFlushCluster(t *testing.T) {
	t.Parallel()
	srvs, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	c := newCounter(t, rdb, "durable", viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour,
		WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond, OnError: func(context.Context, error) {}})
	recordViews(t, c, "v", 100)
	if err := c.Flush(context.Background()); !errors.Is(err, viewcount.ErrNotReplicated) {
		t.Fatalf("Flush without replicas: %v, want ErrNotReplicated", err)
	}
	if st := c.Stats(); st.Pending != 100 {
		t.Fatalf("Stats %+v: want 100 pending", st)
	}
	for _, s := range srvs {
		addClusterReplica(t, s)
	}
	// With replicas a flush succeeds, at the latest on a retry (a replica
	// may ack later than WaitTimeout on a loaded machine; a retry never
	// counts twice).
	redistest.Eventually(t, 10*time.Second, "a durable flush with replicas", func() bool {
		return c.Flush(context.Background()) == nil
	})
	for _, item := range []string{"a", "b"} {
		if got := counts(t, c, item, 0); got.Total != 50 {
			t.Fatalf("item %s: %+v, want 50 views", item, got)
		}
	}
	top, err := c.Top(context.Background(), 2, time.Hour)
	if err != nil || len(top) != 2 || top[0].Views != 50 || top[1].Views != 50 {
		t.Fatalf("Top: %+v, %v: want 50 views each", top, err)
	}
}
