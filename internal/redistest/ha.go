package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replArgs make a replica's first sync start at once (the default diskless
// sync waits 5 s for more replicas), so the replica holds the data before a
// test kills its master.
var replArgs = []string{"--repl-diskless-sync-delay", "0"}

// haTimeout bounds how long WaitHealthy waits for a failover to settle.
const haTimeout = 15 * time.Second

// SentinelMasterName is the master name the sentinels of StartSentinel
// monitor.
const SentinelMasterName = "rkt-master"

// Sentinel is a dedicated Sentinel deployment a test may break: one master,
// one replica and three sentinels (down-after-milliseconds 1000,
// failover-timeout 2000, quorum 2), all on 127.0.0.1. Its methods are safe for
// concurrent use.
type Sentinel struct {
	t             testing.TB
	MasterName    string
	SentinelAddrs []string
	Sentinels     []*Server
	mu            sync.Mutex
	data          map[string]*Server // master and replica by address
}

// StartSentinel starts the deployment and returns once every sentinel
// reports the master and knows the replica and the other sentinels. All
// processes are stopped at t.Cleanup; it skips (or fails, under
// REDISKIT_REQUIRE_REDIS=1) when redis-server is missing.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	if !haveRedis() {
		skipMissing(t, "StartSentinel needs a real server")
	}
	master := StartServer(t, ServerOptions{Args: replArgs})
	replica := StartServer(t, ServerOptions{Args: append([]string{"--replicaof", "127.0.0.1", port(master.Addr())}, replArgs...)})
	s := &Sentinel{t: t, MasterName: SentinelMasterName, data: map[string]*Server{
		master.Addr(): master, replica.Addr(): replica,
	}}
	for range 3 {
		sn := StartServer(t, ServerOptions{
			ConfigLines: []string{
				"sentinel monitor " + SentinelMasterName + " 127.0.0.1 " + port(master.Addr()) + " 2",
				"sentinel down-after-milliseconds " + SentinelMasterName + " 1000",
				"sentinel failover-timeout " + SentinelMasterName + " 2000",
				"sentinel parallel-syncs " + SentinelMasterName + " 1",
			},
			Args: []string{"--sentinel"},
		})
		s.Sentinels = append(s.Sentinels, sn)
		s.SentinelAddrs = append(s.SentinelAddrs, sn.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), haTimeout)
	defer cancel()
	if err := s.waitHealthy(ctx, ""); err != nil {
		t.Fatalf("redistest: sentinel deployment not ready: %v", err)
	}
	return s
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// MasterAddr returns the master's address as the first sentinel that answers
// reports it.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, a := range s.SentinelAddrs {
		addr, err := s.masterBy(ctx, a)
		if err == nil {
			return addr, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

func (s *Sentinel) masterBy(ctx context.Context, sentinel string) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel, MaxRetries: -1})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: %w", sentinel, err)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// KillMaster SIGKILLs the current master and returns its address.
func (s *Sentinel) KillMaster() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		s.t.Fatalf("redistest: KillMaster: %v", err)
	}
	s.mu.Lock()
	srv := s.data[addr]
	s.mu.Unlock()
	if srv == nil {
		s.t.Fatalf("redistest: KillMaster: master %s is not one of this deployment's servers", addr)
	}
	srv.Stop()
	return addr
}

// WaitHealthy waits until every sentinel reports the same master, other than
// old (pass "" for any), and that master answers with role:master. It
// returns the new master's address and the moment the deployment was seen
// healthy; it fails the test after 15 s.
func (s *Sentinel) WaitHealthy(old string) (string, time.Time) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), haTimeout)
	defer cancel()
	if err := s.waitHealthy(ctx, old); err != nil {
		s.t.Fatalf("redistest: sentinel failover: %v", err)
	}
	at := time.Now()
	addr, _ := s.MasterAddr(ctx)
	return addr, at
}

func (s *Sentinel) waitHealthy(ctx context.Context, old string) error {
	var last error
	for {
		if last = s.healthy(ctx, old); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %w", last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Sentinel) healthy(ctx context.Context, old string) error {
	master := ""
	for _, a := range s.SentinelAddrs {
		addr, err := s.masterBy(ctx, a)
		if err != nil {
			return err
		}
		if addr == old {
			return fmt.Errorf("sentinel %s still reports %s", a, old)
		}
		if master != "" && addr != master {
			return fmt.Errorf("sentinels disagree: %s and %s", master, addr)
		}
		master = addr
	}
	rdb := redis.NewClient(&redis.Options{Addr: master, MaxRetries: -1})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("master %s: %w", master, err)
	}
	if !strings.Contains(info, "role:master\r\n") {
		return fmt.Errorf("master %s is not role:master yet", master)
	}
	if old == "" {
		// At start: the replica is attached and every sentinel knows
		// the others, so a failover can be agreed on.
		if !strings.Contains(info, ",state=online,") {
			return fmt.Errorf("master %s has no replica in sync yet", master)
		}
		for _, a := range s.SentinelAddrs {
			sc := redis.NewSentinelClient(&redis.Options{Addr: a, MaxRetries: -1})
			m, err := sc.Master(ctx, s.MasterName).Result()
			_ = sc.Close()
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", a, err)
			}
			if m["num-other-sentinels"] != strconv.Itoa(len(s.SentinelAddrs)-1) || m["num-slaves"] != "1" {
				return fmt.Errorf("sentinel %s: %s other sentinels known, %s replicas", a, m["num-other-sentinels"], m["num-slaves"])
			}
		}
	}
	return nil
}

// ReplicaCluster is a dedicated Redis Cluster of three masters, each with one
// replica (cluster-node-timeout 1000 ms), a test may break. Its methods are
// safe for concurrent use.
type ReplicaCluster struct {
	t     testing.TB
	Addrs []string // all six nodes, seeds for a client
	mu    sync.Mutex
	nodes map[string]*Server
	dead  map[string]bool
}

// StartReplicaCluster starts the cluster and returns once every node reports
// cluster_state:ok, knows all six nodes, and each master took a write. The
// nodes are stopped at t.Cleanup; it skips (or fails, under
// REDISKIT_REQUIRE_REDIS=1) when redis-server is missing.
func StartReplicaCluster(t testing.TB) *ReplicaCluster {
	t.Helper()
	if !haveRedis() {
		skipMissing(t, "StartReplicaCluster needs a real server")
	}
	c := &ReplicaCluster{t: t, nodes: map[string]*Server{}, dead: map[string]bool{}}
	for range 2 * clusterMasters {
		s := StartServer(t, ServerOptions{Args: clusterNodeArgs})
		c.nodes[s.Addr()] = s
		c.Addrs = append(c.Addrs, s.Addr())
	}
	err := createCluster(c.Addrs, 1)
	if err == nil {
		err = waitClusterReady(c.Addrs, clusterMasters)
	}
	if err == nil {
		err = c.waitReplicas()
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clusterNodeArgs are the redis-server arguments of a ReplicaCluster node.
var clusterNodeArgs = []string{"--cluster-enabled", "yes",
	"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
	"--cluster-replica-validity-factor", "0", replArgs[0], replArgs[1]}

// AddReplica starts a new node, joins it to the cluster as a replica of the
// master at addr (one promoted after Kill has none left) and returns once
// that master reports it online; it fails the test after 15 s. The node is
// stopped at t.Cleanup. Call it from the test's goroutine, not concurrently
// with the other methods.
func (c *ReplicaCluster) AddReplica(master string) {
	c.t.Helper()
	s := StartServer(c.t, ServerOptions{Args: clusterNodeArgs})
	ctx, cancel := context.WithTimeout(context.Background(), haTimeout)
	defer cancel()
	m := redis.NewClient(&redis.Options{Addr: master, MaxRetries: -1})
	defer m.Close()
	n := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer n.Close()
	id, err := m.ClusterMyID(ctx).Result()
	if err == nil {
		err = n.ClusterMeet(ctx, "127.0.0.1", port(master)).Err()
	}
	for err == nil {
		// REPLICATE fails until the new node has learnt of the master.
		rerr := n.ClusterReplicate(ctx, id).Err()
		if rerr == nil {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("CLUSTER REPLICATE %s: %w", id, rerr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for err == nil {
		info, ierr := m.Info(ctx, "replication").Result()
		if ierr == nil && strings.Contains(info, "port="+port(s.Addr())+",state=online,") {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("replica %s not online on %s (%v)", s.Addr(), master, ierr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err != nil {
		c.t.Fatalf("redistest: AddReplica: %v", err)
	}
	c.mu.Lock()
	c.nodes[s.Addr()] = s
	c.Addrs = append(c.Addrs, s.Addr())
	c.mu.Unlock()
}

// waitReplicas waits until every master has its replica attached.
func (c *ReplicaCluster) waitReplicas() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		var last error
		for _, m := range c.Masters() {
			rdb := redis.NewClient(&redis.Options{Addr: m, MaxRetries: -1})
			info, err := rdb.Info(ctx, "replication").Result()
			_ = rdb.Close()
			if err == nil && !strings.Contains(info, ",state=online,") {
				err = fmt.Errorf("master %s has no replica in sync", m)
			}
			if err != nil {
				last = err
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: replicas not attached: %w", last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// live returns the addresses of the nodes not killed.
func (c *ReplicaCluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []string
	for _, a := range c.Addrs {
		if !c.dead[a] {
			live = append(live, a)
		}
	}
	return live
}

// Masters returns the addresses of the masters serving slots, as the first
// live node that answers CLUSTER SHARDS sees them (nodes marked failed are
// left out).
func (c *ReplicaCluster) Masters() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, a := range c.live() {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		slots, err := rdb.ClusterSlots(ctx).Result()
		_ = rdb.Close()
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		var out []string
		for _, s := range slots {
			if len(s.Nodes) > 0 && !seen[s.Nodes[0].Addr] {
				seen[s.Nodes[0].Addr] = true
				out = append(out, s.Nodes[0].Addr)
			}
		}
		return out
	}
	return nil
}

// Kill SIGKILLs the node at addr (it stays down).
func (c *ReplicaCluster) Kill(addr string) {
	c.t.Helper()
	c.mu.Lock()
	s := c.nodes[addr]
	if s != nil {
		c.dead[addr] = true
	}
	c.mu.Unlock()
	if s == nil {
		c.t.Fatalf("redistest: Kill: %s is not a node of this cluster", addr)
	}
	s.Stop()
}

// noDeadMaster checks that no live node routes a slot to a killed node.
func (c *ReplicaCluster) noDeadMaster(ctx context.Context) error {
	for _, a := range c.live() {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		slots, err := rdb.ClusterSlots(ctx).Result()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER SLOTS: %w", a, err)
		}
		for _, s := range slots {
			if len(s.Nodes) == 0 {
				return fmt.Errorf("%s: slots %d-%d have no master", a, s.Start, s.End)
			}
			c.mu.Lock()
			dead := c.dead[s.Nodes[0].Addr]
			c.mu.Unlock()
			if dead {
				return fmt.Errorf("%s: slots %d-%d still on the killed %s", a, s.Start, s.End, s.Nodes[0].Addr)
			}
		}
	}
	return nil
}

// WaitHealthy waits until every live node reports cluster_state:ok with all
// slots served by live masters, and returns the moment it saw that; it fails the test after
// 15 s. Call it after Kill to wait for the replica's takeover.
func (c *ReplicaCluster) WaitHealthy() time.Time {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), haTimeout)
	defer cancel()
	var last error
	for {
		if last = clusterHealthy(ctx, c.live(), len(c.Addrs)); last == nil {
			if last = c.noDeadMaster(ctx); last == nil {
				return time.Now()
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("redistest: cluster not healthy within %v: %v", haTimeout, last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
