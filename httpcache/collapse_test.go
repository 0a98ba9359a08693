package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// A follower waiting for the leader's handler call reuses its response only
// when that response would be usable from the cache without validation for
// the follower; otherwise the follower calls the handler itself.
func TestCollapsedFollowerNeedsUsableResponse(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	for i, tc := range []struct {
		name      string
		cc        string   // the handler's Cache-Control
		follower  []string // the follower's request header
		collapsed bool
	}{
		{"fresh response is shared", "max-age=60", nil, true},
		{"no-cache response", "no-cache", nil, false},
		{"zero lifetime", "max-age=0", nil, false},
		{"zero lifetime, must-revalidate", "s-maxage=0, must-revalidate", nil, false},
		{"follower asks max-age=0", "max-age=60", []string{"Cache-Control: max-age=0"}, false},
		{"follower asks min-fresh beyond the lifetime", "max-age=60", []string{"Cache-Control: min-fresh=120"}, false},
		{"follower asks no-cache", "max-age=60", []string{"Cache-Control: no-cache"}, false},
		{"stale response within the follower's max-stale", "max-age=0", []string{"Cache-Control: max-stale=60"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, rdb, fmt.Sprintf("%s%d", redistest.Prefix(t), i), httpcache.Options{}, nil)
			var calls atomic.Int64
			gate := make(chan struct{})
			h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if n == 1 {
					<-gate
				}
				w.Header().Set("Cache-Control", tc.cc)
				w.Header().Set("ETag", `"e"`)
				fmt.Fprintf(w, "call %d", n)
			}))
			const url = "http://example.com/p"
			leader := make(chan *httptest.ResponseRecorder)
			go func() { leader <- do(h, "GET", url) }()
			poll(t, "the leader to reach the handler", func() bool { return calls.Load() == 1 })
			follower := make(chan *httptest.ResponseRecorder)
			go func() { follower <- do(h, "GET", url, tc.follower...) }()
			poll(t, "the follower to wait for the leader", func() bool { return httpcache.FlightWaiters(c, url) == 1 })
			close(gate)
			lw, fw := <-leader, <-follower
			want, wantCalls := "call 2", int64(2)
			if tc.collapsed {
				want, wantCalls = "call 1", 1
			}
			if lw.Body.String() != "call 1" || fw.Body.String() != want || calls.Load() != wantCalls {
				t.Errorf("got leader %q, follower %q after %d handler calls, want call 1, %s after %d",
					lw.Body.String(), fw.Body.String(), calls.Load(), want, wantCalls)
			}
			if cs := fw.Header().Get("Cache-Status"); strings.Contains(cs, "collapsed") != tc.collapsed {
				t.Errorf("follower Cache-Status: got %q, want collapsed %v", cs, tc.collapsed)
			}
		})
	}
}

// A leader that finds, on its second look, an entry a request of the same
// process stored after the leader's lookup began hands that entry to its
// followers: no two responses share header slices, so a later in-place
// change to one response's header (say by an outer middleware) never shows
// in another's.
func TestCollapsedResponsesDoNotShareHeaders(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	prefix := redistest.Prefix(t)
	const url = "http://example.com/alias"
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-A", "a")
		_, _ = w.Write([]byte("v"))
	})
	other := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	do(cached(other, origin), "GET", "http://example.com/warm") // creates the generation number
	entryKey := prefix + ":g" + genOf(t, redistest.NewClient(t, target), prefix) + ":{" + url + "}"
	var gets atomic.Int64
	var c *httpcache.Cache
	findStarted, releaseFind := make(chan struct{}), make(chan struct{})
	rdb := hookedClient(t, target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if !cmdIs(cmd, "get", entryKey) {
			return next(ctx, cmd)
		}
		switch gets.Add(1) {
		case 1: // the leader's lookup misses; then another request of c stores
			err := next(ctx, cmd)
			do(cached(c, origin), "GET", url)
			return err
		case 3: // the leader's second look, after it joined: wait for a follower
			close(findStarted)
			<-releaseFind
		case 4: // the follower's lookup: made to miss, so it joins the leader
			cmd.SetErr(redis.Nil)
			return redis.Nil
		}
		return next(ctx, cmd) // 2: the other request's lookup
	})
	c = newCache(t, rdb, prefix, httpcache.Options{}, nil)
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler called, want every response from the other request's entry")
	}))
	leader := make(chan *httptest.ResponseRecorder)
	go func() { leader <- do(h, "GET", url) }()
	select {
	case <-findStarted:
	case lw := <-leader:
		t.Fatalf("got the leader answered (%q) without a second look, want one after another request stored", lw.Body.String())
	}
	follower := make(chan *httptest.ResponseRecorder)
	go func() { follower <- do(h, "GET", url) }()
	poll(t, "the follower to wait for the leader", func() bool { return httpcache.FlightWaiters(c, url) == 1 })
	close(releaseFind)
	lw, fw := <-leader, <-follower
	if lw.Body.String() != "v" || !strings.Contains(fw.Header().Get("Cache-Status"), "collapsed") {
		t.Fatalf("got leader %q, follower %q, want v and a collapsed follower", lw.Body.String(), fw.Header().Get("Cache-Status"))
	}
	lw.Header()["X-A"][0] = "changed by the leader's middleware"
	if got := fw.Header().Get("X-A"); got != "a" {
		t.Errorf("follower's X-A after the leader's header changed: got %q, want a", got)
	}
}

// A cold miss looks its key up once: the leader looks again only when a
// call for the same key finished since its lookup began.
func TestColdMissLooksUpOnce(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	prefix := redistest.Prefix(t)
	const url = "http://example.com/cold-once"
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("v"))
	})
	other := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	do(cached(other, origin), "GET", "http://example.com/warm") // creates the generation number
	entryKey := prefix + ":g" + genOf(t, redistest.NewClient(t, target), prefix) + ":{" + url + "}"
	var gets atomic.Int64
	rdb := hookedClient(t, target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if cmdIs(cmd, "get", entryKey) {
			gets.Add(1)
		}
		return next(ctx, cmd)
	})
	c := newCache(t, rdb, prefix, httpcache.Options{}, nil)
	var calls atomic.Int64
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		origin.ServeHTTP(w, r)
	}))
	for i, want := range []struct{ gets, calls int64 }{{1, 1}, {2, 1}} { // a miss, then a hit
		if w := do(h, "GET", url); w.Body.String() != "v" {
			t.Fatalf("request %d: got body %q, want v", i, w.Body.String())
		}
		if g, n := gets.Load(), calls.Load(); g != want.gets || n != want.calls {
			t.Errorf("after request %d: got %d lookups and %d handler calls, want %d and %d", i, g, n, want.gets, want.calls)
		}
	}
}

// Concurrent hits share their reads: a lookup that finds Redis idle is sent
// at once, alone; those that arrive while reads are in flight go out
// together in the next round trip, one GET per distinct key, and each
// request still gets its own response. (On a cluster lookups are not
// batched: TestClusterStalledMasterSparesOthers.)
func TestConcurrentHitsShareReads(t *testing.T) {
	t.Parallel()
	const n = 40
	target := redistest.StandaloneTarget(t)
	prefix := redistest.Prefix(t)
	urls := []string{"http://example.com/shared-a", "http://example.com/shared-b"}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path))
	})
	other := newCache(t, redistest.NewClient(t, target), prefix, httpcache.Options{}, nil)
	for _, u := range urls {
		do(cached(other, origin), "GET", u) // stored
	}
	gen := genOf(t, redistest.NewClient(t, target), prefix)
	var gets, hold atomic.Int64
	held := make(chan struct{}, n)
	release := make(chan struct{})
	rdb := hookedClient(t, target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if cmd.Name() == "get" && strings.HasPrefix(cmdKey(cmd), prefix+":g"+gen+":") && gets.Add(1) <= hold.Load() {
			// The lookups sent alone and the first batch (of one)
			// are held until the others queued.
			held <- struct{}{}
			<-release
		}
		return next(ctx, cmd)
	})
	c := newCache(t, rdb, prefix, httpcache.Options{}, nil)
	alone := int64(httpcache.AloneReads(c))
	hold.Store(alone + 1)
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("handler called for %s, want hits", r.URL)
	}))
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { bodies[i] = do(h, "GET", urls[i%2]).Body.String() })
		if int64(i) < hold.Load() {
			<-held
		}
	}
	poll(t, "the other lookups to queue", func() bool { return int64(httpcache.QueuedReads(c)) == n-hold.Load() })
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if want := strings.TrimPrefix(urls[i%2], "http://example.com"); b != want {
			t.Errorf("request %d: got %q, want %q", i, b, want)
		}
	}
	if g := gets.Load(); g != alone+3 {
		t.Errorf("got %d GETs for %d hits on 2 URLs, want %d (%d alone, one batch of one, then one per URL)", g, n, alone+3, alone)
	}
}

// On a cluster, a stalled master delays only the lookups of its own keys:
// requests for entries on the healthy masters are still hits, because
// lookups are not batched across nodes.
func TestClusterStalledMasterSparesOthers(t *testing.T) {
	t.Parallel()
	_, addrs := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := redistest.Prefix(t)
	c := newCache(t, rdb, prefix, httpcache.Options{Timeout: 200 * time.Millisecond}, nil)
	if httpcache.BatchedReads(c) {
		t.Fatal("a cluster client's lookups are batched")
	}
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("v"))
	}))
	ctx := context.Background()
	var stalled, healthy []string
	for i := 0; i < 30; i++ {
		url := fmt.Sprintf("http://example.com/stall-%d", i)
		do(h, "GET", url) // stored
		master, err := rdb.MasterForKey(ctx, prefix+":g"+genOf(t, rdb, prefix)+":{"+url+"}")
		if err != nil {
			t.Fatal(err)
		}
		if master.Options().Addr == addrs[0] {
			stalled = append(stalled, url)
		} else {
			healthy = append(healthy, url)
		}
	}
	if len(stalled) == 0 || len(healthy) == 0 {
		t.Fatalf("got %d URLs on the stalled master and %d on the others, want some of each", len(stalled), len(healthy))
	}
	pause := redis.NewClient(&redis.Options{Addr: addrs[0]})
	t.Cleanup(func() { _ = pause.Close() })
	if err := pause.Do(ctx, "client", "pause", 800, "all").Err(); err != nil {
		t.Fatal(err)
	}
	var hits, misses atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(400 * time.Millisecond)
	for g := range 12 {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				if g%3 == 0 { // a third of the requests wait on the stalled master
					do(h, "GET", stalled[(g+i)%len(stalled)])
					continue
				}
				if cs := do(h, "GET", healthy[(g+i)%len(healthy)]).Header().Get("Cache-Status"); strings.Contains(cs, "hit") {
					hits.Add(1)
				} else {
					misses.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if hits.Load() == 0 || misses.Load() > 0 {
		t.Errorf("healthy masters during the stall: %d hits, %d other answers, want hits only", hits.Load(), misses.Load())
	}
}
