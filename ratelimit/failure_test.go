package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// limiters builds one of each limiter over rdb with the default timeout.
func limiters(t *testing.T, rdb redis.UniversalClient) map[string]ratelimit.Limiter {
	t.Helper()
	c := core.NewFromRedis(rdb)
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{})
	fs, err2 := ratelimit.NewFixedWindow(c, ratelimit.Options{})
	ratelimit.ForceScript(fs)
	g, err3 := ratelimit.NewGCRA(c, ratelimit.Options{})
	m, err4 := ratelimit.NewMulti(c, ratelimit.Options{Policies: []ratelimit.Policy{{Name: "a", Limit: 1, Window: time.Second}}})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return map[string]ratelimit.Limiter{"fixed": fw, "fixed-script": fs, "gcra": g, "multi": m}
}

func TestRedisStoppedReturnsError(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	lims := limiters(t, rdb)
	ctx := context.Background()
	for name, l := range lims {
		if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
			t.Fatalf("%s before stop: got %+v, %v, want allowed", name, res, err)
		}
	}
	srv.Stop()
	for name, l := range lims {
		start := time.Now()
		res, err := l.Allow(ctx, "k")
		if err == nil || res.Allowed {
			t.Errorf("%s: got %+v, %v, want an error and not allowed", name, res, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: got an answer after %v, want well under 1s", name, d)
		}
	}
}

func TestSlowRedisTimesOut(t *testing.T) {
	t.Parallel()
	rdb0 := redistest.Standalone(t)
	if redistest.StandaloneTarget(t).Embedded {
		t.Skip("needs a real server behind the proxy")
	}
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	checkTTLs(t, rdb0, ratelimit.DefaultNamespace) // the limiters' default prefix
	lims := limiters(t, rdb)
	ctx := context.Background()
	for name, l := range lims { // warm up: dial and load scripts (a loaded machine may need more than one Timeout)
		redistest.Eventually(t, 5*time.Second, name+" before blackhole", func() bool {
			_, err := l.Allow(ctx, redistest.Prefix(t))
			return err == nil
		})
	}
	p.Blackhole()
	for name, l := range lims {
		start := time.Now()
		_, err := l.Allow(ctx, redistest.Prefix(t))
		d := time.Since(start)
		if !errors.Is(err, ratelimit.ErrTimeout) {
			t.Errorf("%s: got %v, want ErrTimeout", name, err)
		}
		if d < ratelimit.DefaultTimeout || d > 10*ratelimit.DefaultTimeout {
			t.Errorf("%s: gave up after %v, want about %v", name, d, ratelimit.DefaultTimeout)
		}
	}
	p.Restore()
}

// After a short outage the very next decisions use Redis again: a batch
// that go-redis keeps busy with connection errors and retry backoff during
// the outage must not outlive its callers and hold up later decisions.
func TestRecoversRightAfterOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	checkTTLs(t, srv.Client(t, nil), ratelimit.DefaultNamespace)
	// kinds: the limiters to check with each client. With slow go-redis
	// retries every batch is bounded by this package, by its callers.
	clients := []struct {
		name  string
		kinds []string
		make  func(addr string) redis.UniversalClient
	}{
		{"core client", []string{"fixed", "fixed-script", "gcra", "multi"}, func(addr string) redis.UniversalClient {
			c, err := core.New(core.Config{URL: "redis://" + addr})
			if err != nil {
				t.Fatal(err)
			}
			return c.Redis()
		}},
		{"slow retries", []string{"fixed", "fixed-script", "gcra", "multi"}, func(addr string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 10, ContextTimeoutEnabled: true,
				MinRetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond})
		}},
	}
	for _, c := range clients {
		for _, kind := range c.kinds {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				p := faultproxy.New(t, srv.Addr())
				rdb := c.make(p.Addr())
				t.Cleanup(func() { _ = rdb.Close() })
				ctx := context.Background()
				l := limiters(t, rdb)[kind]
				if _, err := l.Allow(ctx, "warm"); err != nil {
					t.Fatalf("before the cut: %v", err)
				}
				p.Cut()
				for i := range 3 {
					if _, err := l.Allow(ctx, fmt.Sprint("cut-", i)); err == nil {
						t.Fatalf("decision %d during the cut: got no error, want one", i)
					}
				}
				p.Restore()
				restored := time.Now()
				for tries := 1; ; tries++ {
					_, err := l.Allow(ctx, "after")
					if err == nil {
						break
					}
					if time.Since(restored) > 200*time.Millisecond {
						t.Fatalf("%d decisions failed in the %v after Restore, last: %v; want one to succeed within 200ms",
							tries, time.Since(restored), err)
					}
				}
			})
		}
	}
}

// Without an OnError hook, a limiter failure a Guard fails open (or
// closed) on is still visible: a Warn record through slog.Default() naming
// the method and route pattern, never the path, query or the API key; at
// most one per second for the package, counting the suppressed ones. Not
// parallel: it replaces slog.Default().
func TestDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1})), ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	const secret = "sk-do-not-log"
	newRequest := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/items/42?token=q-do-not-log", nil)
		r.Pattern = "GET /items/{id}"
		r.Header.Set("X-Api-Key", secret)
		return r
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, failClosed := range []bool{false, true, true} {
		g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: l, FailClosed: failClosed, Key: ratelimit.KeyByHeader("X-Api-Key")})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		g.Serve(w, newRequest(), next)
		if want := map[bool]int{false: 200, true: 503}[failClosed]; w.Code != want {
			t.Fatalf("FailClosed=%v: got %d, want %d", failClosed, w.Code, want)
		}
	}
	got := logs.String()
	// Three failures within a second: the first is logged, the others
	// counted in the next record's "suppressed".
	if n := strings.Count(got, `level=WARN msg="ratelimit: redis failure" err=`); n != 1 {
		t.Errorf("log: got %d Warn records, want 1 (one per second):\n%s", n, got)
	}
	if !strings.Contains(got, `method=GET pattern="GET /items/{id}"`) {
		t.Errorf("log: got %q, want the method and route pattern", got)
	}
	for _, leak := range []string{secret, "do-not-log", "/items/42"} {
		if strings.Contains(got, leak) {
			t.Errorf("log: got %q, want no %q", got, leak)
		}
	}
	if st := l.Stats(); st.Errors != 3 {
		t.Errorf("Stats: got %+v, want 3 errors", st)
	}
}

// A caller whose own context deadline passes before Redis answers gave up:
// it gets its context's error, and that is no Redis failure (nothing
// reported, nothing counted), however long the limiter's Timeout.
func TestCallerDeadlineNotAFailure(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var reported atomic.Int64
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Timeout: 10 * time.Second,
		OnError: func(context.Context, error) { reported.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		_, err := l.Allow(ctx, "k")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ratelimit.ErrTimeout) {
			t.Fatalf("decision %d: got %v, want the context's own deadline", i, err)
		}
	}
	if n, s := reported.Load(), l.Stats().Errors; n != 0 || s != 0 {
		t.Errorf("got %d errors reported and %d counted, want none", n, s)
	}
}
