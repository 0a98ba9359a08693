package httpcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// Cross-instance collapsing is tested with real processes: the test binary
// re-executes itself as TestLeaseChild, configured through leaseChildEnv,
// and every instance counts its handler calls in Redis (<ns>:calls).

const leaseChildEnv = "HTTPCACHE_LEASE_CHILD"

// leaseChild configures one child instance.
type leaseChild struct {
	Addrs     []string
	Cluster   bool
	Namespace string
	URL       string
	// Requests concurrent GETs once the parent says go (<ns>:go); 0 means
	// one request whose handler never returns (a holder to be killed).
	Requests int
	LeaseTTL time.Duration
	Disable  bool // Collapse.Disable
}

func (lc leaseChild) client() redis.UniversalClient {
	if lc.Cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: lc.Addrs})
	}
	return redis.NewClient(&redis.Options{Addr: lc.Addrs[0]})
}

// countingHandler counts its calls in Redis, holds each call for hold (or
// forever when hold < 0) and answers a cacheable "call N".
func countingHandler(rdb redis.UniversalClient, ns string, hold time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := rdb.Incr(r.Context(), ns+":calls").Result()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if hold < 0 {
			select {} // until the process is killed
		}
		time.Sleep(hold)
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "call %d", n)
	})
}

// TestLeaseChild is a child instance; it runs only under leaseChildEnv.
func TestLeaseChild(t *testing.T) {
	raw := os.Getenv(leaseChildEnv)
	if raw == "" {
		t.Skip("a child process of the cross-instance tests")
	}
	var lc leaseChild
	if err := json.Unmarshal([]byte(raw), &lc); err != nil {
		t.Fatal(err)
	}
	rdb := lc.client()
	defer rdb.Close()
	c := newCache(t, rdb, lc.Namespace, httpcache.Options{Collapse: httpcache.CollapseOptions{LeaseTTL: lc.LeaseTTL, Disable: lc.Disable}}, nil)
	ctx := context.Background()
	if lc.Requests == 0 {
		do(cached(c, countingHandler(rdb, lc.Namespace, -1)), "GET", lc.URL)
		return
	}
	h := cached(c, countingHandler(rdb, lc.Namespace, 300*time.Millisecond))
	if err := rdb.Incr(ctx, lc.Namespace+":ready").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.BLPop(ctx, 30*time.Second, lc.Namespace+":go").Err(); err != nil {
		t.Fatalf("waiting for go: %v", err)
	}
	var wg sync.WaitGroup
	bodies := make([]string, lc.Requests)
	for i := range bodies {
		wg.Go(func() {
			w := do(h, "GET", lc.URL)
			bodies[i] = fmt.Sprintf("%d %s", w.Code, w.Body.String())
		})
	}
	wg.Wait()
	for i, b := range bodies {
		if !strings.HasPrefix(b, "200 call ") {
			t.Errorf("request %d: got %q, want 200 and a handler's body", i, b)
		}
	}
	st := c.Stats()
	t.Logf("child: hits %d, misses %d, collapsed %d, lease waits %d, lease timeouts %d",
		st.Hits, st.Misses, st.Collapsed, st.LeaseWaits, st.LeaseTimeouts)
}

// startChild starts the test binary as TestLeaseChild with lc; the test
// fails if the child does (unless the test killed it).
func startChild(t *testing.T, lc leaseChild) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(lc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), leaseChildEnv+"="+string(raw))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("child output:\n%s", out.String())
		}
	})
	return cmd
}

func childConfig(tc redistest.Case, url string) leaseChild {
	return leaseChild{Addrs: tc.Target.Addrs, Cluster: tc.Target.Cluster, Namespace: tc.Prefix, URL: url}
}

// Four processes sharing one Redis, 100 concurrent requests each for one
// cold URL: one handler call in total with the lease, one per process
// without it, and every request gets a response.
func TestCrossInstanceCollapse(t *testing.T) {
	t.Parallel()
	const processes, requests = 4, 100
	cases := []struct {
		name      string
		disable   bool
		wantCalls int
	}{
		{"lease", false, 1},
		{"disabled", true, processes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				lc := childConfig(tc, "http://example.com/cold")
				lc.Requests, lc.Disable = requests, c.disable
				runChildren(t, tc, lc, processes)
				calls, err := tc.RDB.Get(context.Background(), tc.Prefix+":calls").Int()
				if calls != c.wantCalls || err != nil {
					t.Fatalf("handler calls of %d processes x %d requests: got (%d, %v), want %d",
						processes, requests, calls, err, c.wantCalls)
				}
			})
		})
	}
}

// runChildren starts n children with lc, lets them go together and waits
// for them.
func runChildren(t *testing.T, tc redistest.Case, lc leaseChild, n int) {
	t.Helper()
	ctx := context.Background()
	var children []*exec.Cmd
	for range n {
		children = append(children, startChild(t, lc))
	}
	redistest.Eventually(t, 60*time.Second, "children ready", func() bool {
		ready, _ := tc.RDB.Get(ctx, tc.Prefix+":ready").Int()
		return ready == n
	})
	gos := make([]any, n)
	for i := range gos {
		gos[i] = "go"
	}
	if err := tc.RDB.RPush(ctx, tc.Prefix+":go", gos...).Err(); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
}

// When the lease holder dies in its handler call, a waiting instance calls
// the handler itself once the lease expired or its wait bound passed,
// whichever comes first.
func TestLeaseHolderDies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		leaseTTL      time.Duration // of the holder
		wait          time.Duration // of the waiter
		wantTimeouts  uint64
		minTook, most time.Duration
	}{
		{"lease expires", time.Second, time.Minute, 0, 0, 10 * time.Second},
		{"wait bound passes", time.Minute, 300 * time.Millisecond, 1, 300 * time.Millisecond, 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Standalone(t)
			tc := redistest.Case{Target: redistest.StandaloneTarget(t), RDB: rdb, Prefix: redistest.Prefix(t)}
			ctx := context.Background()
			lc := childConfig(tc, "http://example.com/held")
			lc.LeaseTTL = c.leaseTTL
			holder := startChild(t, lc)
			redistest.Eventually(t, 60*time.Second, "the holder in its handler", func() bool {
				n, _ := rdb.Get(ctx, tc.Prefix+":calls").Int()
				return n == 1
			})
			if err := holder.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = holder.Wait()
			cache := newCache(t, rdb, tc.Prefix, httpcache.Options{Collapse: httpcache.CollapseOptions{LeaseWait: c.wait}}, nil)
			start := time.Now()
			w := do(cached(cache, countingHandler(rdb, tc.Prefix, 0)), "GET", lc.URL)
			took := time.Since(start)
			if w.Code != 200 || w.Body.String() != "call 2" {
				t.Fatalf("waiter: got %d %q, want 200 \"call 2\"", w.Code, w.Body.String())
			}
			if took < c.minTook || took > c.most {
				t.Errorf("waiter took %v, want %v to %v", took, c.minTook, c.most)
			}
			if st := cache.Stats(); st.LeaseWaits != 1 || st.LeaseTimeouts != c.wantTimeouts {
				t.Errorf("got lease waits %d, timeouts %d; want 1, %d", st.LeaseWaits, st.LeaseTimeouts, c.wantTimeouts)
			}
		})
	}
}

// Two instances in one process (two clients): a miss waiting for the other
// instance's handler call reuses its stored response; a response that was
// not stored marks the lease pass, and the waiter calls the handler at once;
// with Collapse.Disable nobody waits.
func TestLeaseAcrossCaches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		cc        string
		disable   bool
		wantBody  string // of the second instance
		wantCalls int64
		wantWaits uint64
	}{
		{"stored response is shared", "public, max-age=60", false, "call 1", 1, 1},
		{"not stored: pass", "private", false, "call 2", 2, 1},
		{"collapsing disabled", "public, max-age=60", true, "call 2", 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			target := redistest.StandaloneTarget(t)
			prefix := redistest.Prefix(t)
			opts := httpcache.Options{Collapse: httpcache.CollapseOptions{Disable: c.disable}}
			a := newCache(t, redistest.NewClient(t, target), prefix, opts, nil)
			b := newCache(t, redistest.NewClient(t, target), prefix, opts, nil)
			var calls atomic.Int64
			gate := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if n == 1 {
					<-gate
				}
				w.Header().Set("Cache-Control", c.cc)
				fmt.Fprintf(w, "call %d", n)
			})
			const url = "http://example.com/two"
			first := make(chan string)
			go func() { first <- do(cached(a, h), "GET", url).Body.String() }()
			poll(t, "the first instance in its handler", func() bool { return calls.Load() == 1 })
			second := make(chan string)
			go func() { second <- do(cached(b, h), "GET", url).Body.String() }()
			if c.disable {
				poll(t, "the second instance in its handler", func() bool { return calls.Load() == 2 })
			} else {
				poll(t, "the second instance waiting", func() bool { return b.Stats().LeaseWaits == 1 })
			}
			close(gate)
			if got := <-first; got != "call 1" {
				t.Errorf("first instance: got %q, want \"call 1\"", got)
			}
			if got := <-second; got != c.wantBody {
				t.Errorf("second instance: got %q, want %q", got, c.wantBody)
			}
			if calls.Load() != c.wantCalls || b.Stats().LeaseWaits != c.wantWaits {
				t.Errorf("got %d calls, %d lease waits; want %d, %d", calls.Load(), b.Stats().LeaseWaits, c.wantCalls, c.wantWaits)
			}
		})
	}
}

// A handler that panics while holding the lease (httputil.ReverseProxy
// panics with http.ErrAbortHandler when a body copy fails) releases it with
// the pass mark: the other instance's waiter calls its handler at once
// instead of after LeaseTTL, and later misses do not wait at all.
func TestLeaseReleasedOnPanic(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	prefix := redistest.Prefix(t)
	a := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	b := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	var calls atomic.Int64
	gate := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-gate
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprint(w, "ok")
	})
	const url = "http://example.com/panic"
	panicked := make(chan any)
	go func() {
		defer func() { panicked <- recover() }()
		do(cached(a, h), "GET", url)
	}()
	poll(t, "the first instance in its handler", func() bool { return calls.Load() == 1 })
	second := make(chan string)
	start := time.Now()
	go func() { second <- do(cached(b, h), "GET", url).Body.String() }()
	poll(t, "the second instance waiting", func() bool { return b.Stats().LeaseWaits == 1 })
	close(gate)
	if p := <-panicked; p != http.ErrAbortHandler {
		t.Fatalf("first instance: got panic %v, want http.ErrAbortHandler passed on", p)
	}
	if got := <-second; got != "ok" {
		t.Errorf("second instance: got %q, want \"ok\"", got)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("second instance answered after %v, want well under LeaseTTL (5s)", took)
	}
}

// A key whose last response was not stored holds the pass mark: a miss on
// it takes no wait (no lease wait counted, no poll pause).
func TestLeasePassMarkNoWait(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	prefix := redistest.Prefix(t)
	c := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "fresh")
	})
	const url = "http://example.com/nostore"
	for i := range 5 {
		if got := do(cached(c, h), "GET", url).Body.String(); got != "fresh" {
			t.Fatalf("request %d: got %q", i, got)
		}
	}
	if w := c.Stats().LeaseWaits; w != 0 {
		t.Errorf("got %d lease waits for a key marked pass, want 0", w)
	}
}
