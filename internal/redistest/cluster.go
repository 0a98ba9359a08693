package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const clusterMasters = 3

// Node timeouts: a short one while the nodes join, so gossip settles within
// redis-cli's first one-second check, then a tolerant one for the tests, so a
// node stalled by a loaded machine is not marked failed.
const (
	joinNodeTimeout = "500"
	nodeTimeout     = "2000"
)

// startCluster starts three cluster-enabled nodes, joins them with
// redis-cli --cluster create, and returns once every node reports
// cluster_state:ok and a write to a key on each master succeeds.
func startCluster() (Target, error) {
	nodes := make([]*proc, clusterMasters)
	errs := make([]error, clusterMasters)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			nodes[i], errs[i] = startShared(fmt.Sprintf("cluster-%d", i), true, []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", joinNodeTimeout,
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopProcs(nodes)
		return Target{}, err
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr()
	}
	if err := createCluster(addrs, 0); err != nil {
		stopProcs(nodes)
		return Target{}, err
	}
	err := setNodeTimeout(addrs)
	if err == nil {
		err = waitClusterReady(addrs, len(addrs))
	}
	if err != nil {
		for _, n := range nodes {
			err = fmt.Errorf("%w\n--- %s log tail ---\n%s", err, n.addr(), n.logTail())
		}
		stopProcs(nodes)
		return Target{}, err
	}
	return Target{Name: "cluster", Cluster: true, Addrs: addrs}, nil
}

func stopProcs(ps []*proc) {
	for _, p := range ps {
		if p != nil {
			p.stop()
		}
	}
}

// createCluster assigns all slots to the nodes, with replicas replicas per
// master (redis-cli picks which nodes become replicas).
func createCluster(addrs []string, replicas int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redistest: redis-cli --cluster create: %w\n%s", err, stripANSI(string(out)))
	}
	return nil
}

// setNodeTimeout raises cluster-node-timeout on every node after the join.
func setNodeTimeout(addrs []string) error {
	for _, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		err := rdb.ConfigSet(context.Background(), "cluster-node-timeout", nodeTimeout).Err()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("redistest: %s: CONFIG SET cluster-node-timeout: %w", addr, err)
		}
	}
	return nil
}

// waitClusterReady polls until every node reports a healthy cluster that
// knows all nodes and covers all slots, and a write succeeds on each of the
// masters masters.
func waitClusterReady(addrs []string, masters int) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	var last error
	for {
		if last = clusterHealthy(ctx, addrs, len(addrs)); last == nil {
			if last = writeEveryMaster(ctx, addrs, masters); last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster not ready within %v: %w", readyTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// clusterHealthy checks CLUSTER INFO on every node of addrs: state ok, all
// slots served, known nodes known.
func clusterHealthy(ctx context.Context, addrs []string, known int) error {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_ok:16384",
		fmt.Sprintf("cluster_known_nodes:%d", known),
	}
	for _, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		info, err := rdb.ClusterInfo(ctx).Result()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER INFO: %w", addr, err)
		}
		for _, w := range want {
			if !strings.Contains(info, w+"\r\n") {
				return fmt.Errorf("%s: CLUSTER INFO lacks %q", addr, w)
			}
		}
	}
	return nil
}

// writeEveryMaster sets and deletes keys until masters masters took one.
func writeEveryMaster(ctx context.Context, addrs []string, masters int) error {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	seen := map[string]bool{}
	for i := 0; len(seen) < masters && i < 1000; i++ {
		key := fmt.Sprintf("rkt:ready:%d", i)
		if err := rdb.Set(ctx, key, "1", time.Minute).Err(); err != nil {
			return fmt.Errorf("SET %s: %w", key, err)
		}
		if err := rdb.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("DEL %s: %w", key, err)
		}
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		seen[m.Options().Addr] = true
	}
	if len(seen) < masters {
		return fmt.Errorf("writes reached %d of %d masters", len(seen), masters)
	}
	return nil
}

// stripANSI is used to keep redis-cli output readable in errors.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
