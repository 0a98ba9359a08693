package httpcache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestCollapsing(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, nil)
		var calls atomic.Int64
		gate := make(chan struct{})
		h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			<-gate
			w.Header().Set("Cache-Control", "max-age=60")
			_, _ = w.Write([]byte("once"))
		}))
		const n = 1000
		var wg sync.WaitGroup
		var started atomic.Int64
		bodies := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				started.Add(1)
				bodies[i] = do(h, "GET", "http://example.com/cold").Body.String()
			}()
		}
		poll(t, "all requests to start and the handler to be called", func() bool {
			return started.Load() == n && calls.Load() == 1
		})
		close(gate)
		wg.Wait()
		if got := calls.Load(); got != 1 {
			t.Errorf("handler calls: got %d, want 1", got)
		}
		for i, b := range bodies {
			if b != "once" {
				t.Fatalf("response %d: got %q, want %q", i, b, "once")
			}
		}
		s := c.Stats()
		if s.Misses != 1 || s.Collapsed+s.Hits != n-1 {
			t.Errorf("stats: got %d misses, %d collapsed, %d hits, want 1 miss and %d collapsed+hits", s.Misses, s.Collapsed, s.Hits, n-1)
		}
	})
}

func TestCollapsedNotShareable(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{}, nil)
	var calls atomic.Int64
	gate := make(chan struct{})
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-gate
		}
		w.Header().Set("Cache-Control", "private, max-age=60")
		_, _ = w.Write([]byte(r.Header.Get("X-User")))
	}))
	first := make(chan string)
	go func() { first <- do(h, "GET", "http://example.com/p", "X-User: alice").Body.String() }()
	poll(t, "the leader to reach the handler", func() bool { return calls.Load() == 1 })
	second := make(chan string)
	go func() { second <- do(h, "GET", "http://example.com/p", "X-User: bob").Body.String() }()
	close(gate)
	if a, b := <-first, <-second; a != "alice" || b != "bob" {
		t.Errorf("private responses: got %q and %q, want alice and bob", a, b)
	}
}

func TestRedisStopped(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true})
	var errs atomic.Int64
	c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{
		OnError: func(context.Context, error) { errs.Add(1) },
	}, nil)
	c2 := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{}, nil) // never read the generation
	var calls atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("from handler"))
	})
	h := cached(c, origin)
	do(h, "GET", "http://example.com/x")
	if w := do(h, "GET", "http://example.com/x"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("before stop: got %q, want a hit", w.Header().Get("Cache-Status"))
	}
	srv.Stop()
	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
	}{{"GET", h, "GET"}, {"HEAD", h, "HEAD"}, {"GET cold instance", cached(c2, origin), "GET"}, {"POST", h, "POST"}} {
		before := calls.Load()
		w := do(tc.h, tc.method, "http://example.com/x")
		if w.Code != 200 || calls.Load() != before+1 {
			t.Errorf("%s with Redis down: got %d after %d handler calls, want 200 from the handler", tc.name, w.Code, calls.Load()-before)
		}
		if tc.method == "GET" && !strings.Contains(w.Header().Get("Cache-Status"), "detail=redis-error") {
			t.Errorf("%s with Redis down: Cache-Status got %q, want detail=redis-error", tc.name, w.Header().Get("Cache-Status"))
		}
	}
	if errs.Load() == 0 || c.Stats().Errors == 0 {
		t.Errorf("errors reported: got %d (stats %d), want > 0", errs.Load(), c.Stats().Errors)
	}
}

func TestCorruptEntryIsMiss(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		var errs atomic.Int64
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{OnError: func(_ context.Context, err error) { errs.Add(1) }}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60}, body: "good"})
		h := cached(c, o)
		do(h, "GET", "http://example.com/c")
		ctx := context.Background()
		key := tc.Prefix + ":g" + genOf(t, tc.RDB, tc.Prefix) + ":{http://example.com/c}"
		blob, err := tc.RDB.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatalf("stored entry %s: got %v, want it", key, err)
		}
		for _, bad := range [][]byte{blob[:len(blob)-1], append([]byte("XXXX"), blob[4:]...), flip(blob, len(blob)/2), []byte("x")} {
			tc.RDB.Set(ctx, key, bad, 0)
			before := o.Calls()
			if w := do(h, "GET", "http://example.com/c", "Cache-Control: max-stale"); w.Body.String() != "good" || o.Calls() != before+1 {
				t.Errorf("corrupt entry: got %q after %d calls, want a miss answered by the handler", w.Body.String(), o.Calls()-before)
			}
		}
		if errs.Load() == 0 {
			t.Error("corrupt entries: got no error reported, want some")
		}
	})
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0xff
	return out
}

// TestSizeLimit streams a body larger than MaxBodyBytes through a real
// server: the client gets bytes before the handler finished (so the body is
// never held whole) and nothing is stored.
func TestSizeLimit(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{Storage: httpcache.StorageOptions{MaxBodyBytes: 64 << 10}}, nil)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	release := make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		for range 3 {
			_, _ = w.Write(chunk)
		}
		if r.URL.Query().Get("wait") != "" {
			<-release
		}
		_, _ = w.Write(chunk)
	})))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/big?wait=1")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 2*len(chunk))
	if _, err := io.ReadFull(res.Body, head); err != nil {
		t.Fatalf("reading the first 128 KiB while the handler waits: got %v, want them", err)
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || len(head)+len(rest) != 4*len(chunk) {
		t.Fatalf("body: got %d bytes, %v, want %d", len(head)+len(rest), err, 4*len(chunk))
	}
	if !strings.Contains(res.Header.Get("Cache-Status"), "fwd=miss") || strings.Contains(res.Header.Get("Cache-Status"), "stored") {
		t.Errorf("Cache-Status: got %q, want a miss not stored", res.Header.Get("Cache-Status"))
	}
	res2, err := http.Get(srv.URL + "/big?wait=1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res2.Body)
	res2.Body.Close()
	if calls.Load() != 2 || c.Stats().NotStorable["too-large"] != 2 {
		t.Errorf("got %d handler calls and %v, want 2 calls, 2 too-large", calls.Load(), c.Stats().NotStorable)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := httpcache.New(nil, httpcache.Options{}); !errors.Is(err, httpcache.ErrInvalidOptions) {
		t.Errorf("nil client: got %v, want ErrInvalidOptions", err)
	}
	rdb := redistest.Standalone(t)
	for _, o := range []httpcache.Options{
		{Storage: httpcache.StorageOptions{MaxTTL: -1}}, {Storage: httpcache.StorageOptions{MaxBodyBytes: -1}}, {Namespace: "a*"},
		{Storage: httpcache.StorageOptions{Rules: []httpcache.Rule{{Prefix: "x", TTL: 1}}}},
		{Keys: httpcache.KeyOptions{Hosts: []string{""}}}, {Keys: httpcache.KeyOptions{Scheme: "ftp"}}, {Timeout: -1},
	} {
		if _, err := httpcache.New(coreClient(rdb), o); !errors.Is(err, httpcache.ErrInvalidOptions) {
			t.Errorf("New(%+v): got %v, want ErrInvalidOptions", o, err)
		}
	}
}
