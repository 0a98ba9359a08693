package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a dedicated 3-master cluster (node timeout 500 ms) a
// test may break: stop a master, migrate slots. The nodes are stopped at
// t.Cleanup; it skips or fails like StartServer when redis-server is missing.
func StartCluster(t testing.TB) ([]*Server, []string) {
	t.Helper()
	var srvs []*Server
	var addrs []string
	for range 3 {
		s := StartServer(t, ServerOptions{Args: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "500"}})
		srvs, addrs = append(srvs, s), append(addrs, s.Addr())
	}
	err := createCluster(addrs, 0)
	if err == nil {
		err = waitClusterReady(addrs, len(addrs))
	}
	if err != nil {
		t.Fatal(err)
	}
	return srvs, addrs
}

// WaitClusterState polls CLUSTER INFO on addr until cluster_state is state
// ("ok" or "fail"), for at most 10 s.
func WaitClusterState(t testing.TB, addr, state string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:"+state+"\r\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s: cluster_state not %s within 10s: %v %q", addr, state, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MigrateSlot moves slot from the master holding keys in it to another
// master of addrs, the way redis-cli resharding does: IMPORTING and
// MIGRATING, MIGRATE of every key in the slot, then during() (clients now
// see ASK redirections), then SETSLOT NODE on both (clients see MOVED).
func MigrateSlot(t testing.TB, addrs []string, slot int, during func()) {
	t.Helper()
	ctx := context.Background()
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
	if src == "" {
		t.Fatalf("redistest: no master holds keys in slot %d yet", slot)
	}
	for _, a := range addrs {
		if a != src {
			dst = a
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("redistest: migrate slot %d: %v", slot, err)
		}
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
