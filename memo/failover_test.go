package memo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// memoMaxRecovery is how long after the topology is healthy again a memo
// Func may still see Redis errors.
const memoMaxRecovery = time.Second

func TestMemoSentinelFailover(t *testing.T) {
	t.Parallel()
	memoFailover(t, redistest.FailoverSentinel(t))
}

func TestMemoClusterFailover(t *testing.T) {
	t.Parallel()
	memoFailover(t, redistest.FailoverCluster(t))
}

// memoFailover kills a master under a steady load of Gets from four
// goroutines: every Get returns the function's current value (fail open,
// never an error, never a stale value: a Forget made before the kill holds
// after it), and the Func is back on Redis hits within memoMaxRecovery of
// the deployment being healthy.
func memoFailover(t *testing.T, topo redistest.Failover) {
	const nkeys, workers = 16, 4
	var versions [nkeys]atomic.Int64
	for i := range versions {
		versions[i].Store(1)
	}
	var calls atomic.Int64
	fn := func(_ context.Context, k string) (string, error) {
		calls.Add(1)
		var i int
		fmt.Sscanf(k, "k%d", &i)
		return fmt.Sprintf("%s@v%d", k, versions[i].Load()), nil
	}
	var lastErr atomic.Int64 // UnixNano of the last Redis error reported
	ns := redistest.Prefix(t)
	f, err := memo.Wrap(topo.Client(t), "users", fn, memo.Options{
		Namespace: ns, Beta: -1, Timeout: 200 * time.Millisecond,
		OnError: func(context.Context, error) { lastErr.Store(time.Now().UnixNano()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("k%d", i) }
	for i := range nkeys {
		if _, err := f.Get(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The source of k0 changes and its entry is forgotten before the kill.
	// The tombstone Forget wrote must survive the failover: replication is
	// asynchronous, so give it the few milliseconds it takes on loopback
	// (the load below runs for 300 ms before the kill).
	versions[0].Store(2)
	if err := f.Forget(ctx, key(0)); err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		gets  int
		errs  []string
		wrong []string
	)
	stopLoad := redistest.Load(workers, func() {
		i := rand.IntN(nkeys)
		want := fmt.Sprintf("%s@v%d", key(i), versions[i].Load())
		v, err := f.Get(ctx, key(i))
		mu.Lock()
		gets++
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case v != want:
			wrong = append(wrong, fmt.Sprintf("%s: got %q, want %q", key(i), v, want))
		}
		mu.Unlock()
	})
	time.Sleep(300 * time.Millisecond)
	before := f.Stats()
	_, _, killed, healthy := topo.Kill(ns + ":users:gen")
	// Back when no Redis error happened for 500 ms (at most 3 s).
	redistest.WaitSettled(healthy, func() time.Time { return time.Unix(0, lastErr.Load()) })
	// Then the Gets must be Redis hits: no error, no load.
	window := f.Stats()
	time.Sleep(300 * time.Millisecond)
	after := f.Stats()
	stopLoad()

	last := time.Unix(0, lastErr.Load())
	recovery := max(0, last.Sub(healthy))
	t.Logf("healthy %v after the kill; last Redis error %v after healthy; %d Gets, %d errors to callers, %d wrong values; during the switch %d Redis errors and %d direct loads; after recovery %d hits, %d loads, %d errors in 300 ms",
		healthy.Sub(killed).Round(time.Millisecond), recovery.Round(time.Millisecond), gets, len(errs), len(wrong),
		window.Errors-before.Errors, window.Loads-before.Loads,
		after.Hits-window.Hits, after.Loads-window.Loads, after.Errors-window.Errors)
	for _, e := range errs[:min(len(errs), 5)] {
		t.Errorf("Get returned an error (fail open wants none): %s", e)
	}
	for _, w := range wrong[:min(len(wrong), 5)] {
		t.Errorf("stale or wrong value: %s", w)
	}
	if recovery > memoMaxRecovery {
		t.Errorf("Redis errors until %v after healthy, want <= %v", recovery, memoMaxRecovery)
	}
	if after.Hits == window.Hits || after.Loads != window.Loads || after.Errors != window.Errors {
		t.Errorf("after recovery: %d hits, %d loads, %d errors; want only hits", after.Hits-window.Hits, after.Loads-window.Loads, after.Errors-window.Errors)
	}
	if window.Errors == before.Errors {
		t.Errorf("no Redis error during the failover: the kill was not seen")
	}
	for i := range nkeys {
		want := fmt.Sprintf("%s@v%d", key(i), versions[i].Load())
		if v, err := f.Get(ctx, key(i)); err != nil || v != want {
			t.Errorf("after the failover Get(%s) = (%q, %v), want %q", key(i), v, err, want)
		}
	}
}
