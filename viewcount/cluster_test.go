package viewcount_test

import (
	"context"
	"fmt"
	"os/exec"
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
	srvs, addrs := dedicatedCluster(t)
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
	waitClusterState(t, addrs[1], "fail")
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
	_, addrs := dedicatedCluster(t)
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
	migrateSlot(t, addrs, "vc:{mover}:total", func() {
		for range 50 {
			view()
		}
	})
	for range 50 {
		view()
	}
	close(stop)
	wg.Wait()
	if s := stats(t, c, "mover", 1); s.Total != ok.Load() || len(failed) > 0 || ok.Load() < 101 {
		t.Fatalf("total %d, want %d (views recorded without error, at least 101); failures other than TRYAGAIN (%d): %v",
			s.Total, ok.Load(), tryAgain.Load(), failed)
	}
}

// dedicatedCluster starts a 3-master cluster this test may break (the
// shared one from redistest must stay whole).
func dedicatedCluster(t *testing.T) ([]*redistest.Server, []string) {
	t.Helper()
	var srvs []*redistest.Server
	var addrs []string
	for range 3 {
		s := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "500"}})
		srvs, addrs = append(srvs, s), append(addrs, s.Addr())
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		waitClusterState(t, a, "ok")
	}
	return srvs, addrs
}

// waitClusterState polls CLUSTER INFO on addr until cluster_state is state.
func waitClusterState(t *testing.T, addr, state string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:"+state+"\r\n") &&
			(state != "ok" || strings.Contains(info, "cluster_known_nodes:3\r\n")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: cluster_state not %s within 10s: %v %q", addr, state, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// migrateSlot moves key's slot from its master to another: IMPORTING and
// MIGRATING, MIGRATE of every key in the slot, during(), then SETSLOT NODE.
func migrateSlot(t *testing.T, addrs []string, key string, during func()) {
	t.Helper()
	ctx := context.Background()
	slot := int(core.Slot(key))
	nodes, ids := map[string]*redis.Client{}, map[string]string{}
	var src, dst string
	for _, a := range addrs {
		nodes[a] = redis.NewClient(&redis.Options{Addr: a})
		defer nodes[a].Close()
		ids[a] = nodes[a].ClusterMyID(ctx).Val()
		if n, _ := nodes[a].ClusterCountKeysInSlot(ctx, slot).Result(); n > 0 {
			src = a
		}
	}
	for _, a := range addrs {
		if a != src && src != "" {
			dst = a
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if src == "" {
		t.Fatalf("no master holds %s yet", key)
	}
	must(nodes[dst].Do(ctx, "cluster", "setslot", slot, "importing", ids[src]).Err())
	must(nodes[src].Do(ctx, "cluster", "setslot", slot, "migrating", ids[dst]).Err())
	host, port, _ := strings.Cut(dst, ":")
	for {
		keys, err := nodes[src].ClusterGetKeysInSlot(ctx, slot, 100).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(nodes[src].Do(ctx, args...).Err())
	}
	during()
	for _, a := range []string{dst, src} {
		must(nodes[a].Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
	}
}
