package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// maxRecovery is how long after the topology is healthy again core's
// operations may still fail.
const maxRecovery = time.Second

// failoverLoad runs SET then GET of a fresh key in a loop through c, each
// call bounded by 200 ms, and records when calls fail and succeed and every
// write Redis acknowledged.
type failoverLoad struct {
	c    *core.Client
	keys func(i int) string

	mu        sync.Mutex
	acked     map[string]int // key -> value, for every acknowledged SET
	failures  int
	lastFail  time.Time
	firstFail time.Time
	wrong     []string // reads that returned another value than the one just written
	stop      chan struct{}
	done      chan struct{}
}

func startLoad(c *core.Client, keys func(i int) string) *failoverLoad {
	l := &failoverLoad{c: c, keys: keys, acked: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *failoverLoad) run() {
	defer close(l.done)
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		key := l.keys(i)
		ok := l.op(key, i)
		l.mu.Lock()
		if !ok {
			l.failures++
			now := time.Now()
			l.lastFail = now
			if l.firstFail.IsZero() {
				l.firstFail = now
			}
		}
		l.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

// op writes i to key and reads it back; it reports whether both succeeded.
func (l *failoverLoad) op(key string, i int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := l.c.Set(ctx, key, i, time.Minute); err != nil {
		return false
	}
	l.mu.Lock()
	l.acked[key] = i
	l.mu.Unlock()
	var got int
	found, err := l.c.Get(ctx, key, &got)
	if err != nil {
		return false
	}
	if !found || got != i {
		l.mu.Lock()
		l.wrong = append(l.wrong, fmt.Sprintf("%s: wrote %d, read found=%v %d", key, i, found, got))
		l.mu.Unlock()
	}
	return true
}

// lastFailure returns the time of the last failed call (zero if none).
func (l *failoverLoad) lastFailure() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFail
}

func (l *failoverLoad) halt() {
	close(l.stop)
	<-l.done
}

// follow waits, after the topology was healthy at healthy, until the calls
// have succeeded for 500 ms in a row (at most 3 s), stops the load, and
// returns how long after healthy the last call failed (0 if none did).
func (l *failoverLoad) follow(t *testing.T, healthy time.Time) time.Duration {
	t.Helper()
	deadline := healthy.Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if lf := l.lastFailure(); time.Since(lf) > 500*time.Millisecond && time.Since(healthy) > 500*time.Millisecond {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.halt()
	return max(0, l.lastFailure().Sub(healthy))
}

// verify reads back every acknowledged write: none may come back with
// another value. A write the dead master acknowledged but had not yet
// replicated is gone after the failover (replication is asynchronous); such
// losses are counted and logged, not failed.
func (l *failoverLoad) verify(t *testing.T) {
	t.Helper()
	for _, w := range l.wrong {
		t.Errorf("read after write: %s", w)
	}
	ctx := context.Background()
	lost := 0
	for key, want := range l.acked {
		var got int
		found, err := l.c.Get(ctx, key, &got)
		switch {
		case err != nil:
			t.Fatalf("read back %s: %v", key, err)
		case !found:
			lost++
		case got != want:
			t.Errorf("read back %s: got %d, want %d", key, got, want)
		}
	}
	t.Logf("%d acknowledged writes, %d failed calls, %d acknowledged writes lost to asynchronous replication", len(l.acked), l.failures, lost)
}

// TestSentinelFailover SIGKILLs the master of a Sentinel deployment under a
// steady SET/GET load through core.Client: the client follows the promoted
// replica within maxRecovery of the sentinels reporting it.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	c, err := core.New(core.Config{SentinelAddrs: s.SentinelAddrs, MasterName: s.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := redistest.Prefix(t)
	l := startLoad(c, func(i int) string { return core.MakeKey(prefix, fmt.Sprint(i)) })
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	old := s.KillMaster()
	master, healthy := s.WaitHealthy(old)
	recovery := l.follow(t, healthy)
	t.Logf("sentinel: master %s killed, %s promoted; healthy %v after the kill; core back %v after healthy (first failure %v after the kill)",
		old, master, healthy.Sub(killed).Round(time.Millisecond), recovery.Round(time.Millisecond), l.firstFail.Sub(killed).Round(time.Millisecond))
	if recovery > maxRecovery {
		t.Errorf("core failed calls until %v after the sentinels reported the new master, want <= %v", recovery, maxRecovery)
	}
	l.verify(t)
}

// TestClusterFailover SIGKILLs the master holding the test's slot in a
// cluster with replicas, under a steady SET/GET load through core.Client:
// the client follows the promoted replica within maxRecovery of the cluster
// being healthy again, long before go-redis' 60 s periodic reload.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	rc := redistest.StartReplicaCluster(t)
	c, err := core.New(core.Config{ClusterAddrs: rc.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One hash tag: every key lives on the master that is killed.
	prefix := "{" + redistest.Prefix(t) + "}"
	l := startLoad(c, func(i int) string { return core.MakeKey(prefix, fmt.Sprint(i)) })
	time.Sleep(300 * time.Millisecond)
	m, err := c.Redis().(*redis.ClusterClient).MasterForKey(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Options().Addr
	killed := time.Now()
	rc.Kill(old)
	healthy := rc.WaitHealthy()
	recovery := l.follow(t, healthy)
	t.Logf("cluster: master %s killed; healthy %v after the kill; core back %v after healthy (first failure %v after the kill)",
		old, healthy.Sub(killed).Round(time.Millisecond), recovery.Round(time.Millisecond), l.firstFail.Sub(killed).Round(time.Millisecond))
	if recovery > maxRecovery {
		t.Errorf("core failed calls until %v after the cluster was healthy, want <= %v", recovery, maxRecovery)
	}
	l.verify(t)
}
