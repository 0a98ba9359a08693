package redistest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
)

// Failover is a deployment a failover test breaks, the same way whatever
// its kind: Sentinel (StartSentinel) or a Redis Cluster with replicas
// (StartReplicaCluster). Tests take it as a parameter, so one test body runs
// on both.
type Failover struct {
	// Name is "sentinel" or "cluster".
	Name string
	// Config connects a core client to the deployment.
	Config core.Config
	// Kill SIGKILLs a master (on a cluster, the one serving key's slot;
	// Sentinel has one), waits until the deployment is healthy again, and
	// returns the killed master, the one that took over, and when the
	// master was killed and when the deployment was healthy.
	Kill func(key string) (old, promoted string, killed, healthy time.Time)
	// AddReplica gives master a new replica (a promoted master has none
	// left) and returns once it is in sync.
	AddReplica func(master string)
}

// Client returns a core client on f, closed when t ends.
func (f Failover) Client(t testing.TB) *core.Client {
	t.Helper()
	c, err := core.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// FailoverSentinel starts a Sentinel deployment for t: one master, one
// replica, three sentinels.
func FailoverSentinel(t testing.TB) Failover {
	t.Helper()
	s := StartSentinel(t)
	return Failover{
		Name:   "sentinel",
		Config: core.Config{SentinelAddrs: s.SentinelAddrs, MasterName: s.MasterName},
		Kill: func(string) (string, string, time.Time, time.Time) {
			old := s.KillMaster()
			killed := time.Now()
			promoted, healthy := s.WaitHealthy(old)
			return old, promoted, killed, healthy
		},
		AddReplica: func(master string) {
			host, port, _ := net.SplitHostPort(master)
			StartServer(t, ServerOptions{Args: []string{"--replicaof", host, port}})
		},
	}
}

// FailoverCluster starts a Redis Cluster of three masters with a replica
// each for t.
func FailoverCluster(t testing.TB) Failover {
	t.Helper()
	rc := StartReplicaCluster(t)
	return Failover{
		Name:   "cluster",
		Config: core.Config{ClusterAddrs: rc.Addrs},
		Kill: func(key string) (string, string, time.Time, time.Time) {
			old := slotMaster(t, rc, key)
			killed := time.Now()
			rc.Kill(old)
			healthy := rc.WaitHealthy()
			promoted := slotMaster(t, rc, key)
			if promoted == old {
				t.Fatalf("redistest: slot of %q still served by the killed master %s", key, old)
			}
			return old, promoted, killed, healthy
		},
		AddReplica: rc.AddReplica,
	}
}

// slotMaster is the master serving key's slot, as CLUSTER SLOTS of the
// first master of rc that answers reports it.
func slotMaster(t testing.TB, rc *ReplicaCluster, key string) string {
	t.Helper()
	slot := core.Slot(key)
	for _, a := range rc.Masters() {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		slots, err := rdb.ClusterSlots(context.Background()).Result()
		_ = rdb.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
				return s.Nodes[0].Addr
			}
		}
	}
	t.Fatalf("redistest: no master answers for the slot of %q", key)
	return ""
}

// Load calls op from workers goroutines, each about once a millisecond,
// until the returned stop is called; stop returns once every goroutine has
// ended. It is the steady load the failover tests kill a master under.
func Load(workers int, op func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				op()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// WaitSettled waits until both healthy and last() (the time of the last
// operation that missed Redis) are 500 ms in the past, or 3 s past healthy
// at most: the end of a failover test's recovery window.
func WaitSettled(healthy time.Time, last func() time.Time) {
	for deadline := healthy.Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if time.Since(last()) > 500*time.Millisecond && time.Since(healthy) > 500*time.Millisecond {
			return
		}
	}
}
