package generation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// bound returns a per-call bound like the features': the call survives the
// caller giving up and ends after d.
func bound(d time.Duration) func(context.Context) (context.Context, context.CancelFunc) {
	return func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), d)
	}
}

func newCache(rdb redis.UniversalClient, key string, refresh time.Duration, onError func(context.Context, error)) *generation.Cache {
	return generation.New(core.NewFromRedis(rdb), key, refresh, time.Second, bound(time.Second), onError)
}

func get(t *testing.T, g *generation.Cache) int64 {
	t.Helper()
	n, err := g.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: got %v, want nil", err)
	}
	return n
}

func bump(t *testing.T, g *generation.Cache) int64 {
	t.Helper()
	n, err := g.Bump(context.Background())
	if err != nil {
		t.Fatalf("Bump: got %v, want nil", err)
	}
	return n
}

// A Bump by another process is seen once refresh has passed, not before.
func TestRefresh(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		refresh time.Duration
		seen    bool
	}{
		{"refresh passed", time.Nanosecond, true},
		{"within refresh", time.Hour, false},
	}
	target := redistest.StandaloneTarget(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := redistest.Prefix(t) + ":gen"
			here := newCache(redistest.NewClient(t, target), key, tc.refresh, nil)
			other := newCache(redistest.NewClient(t, target), key, tc.refresh, nil)
			before := get(t, here)
			bumped := bump(t, other)
			if bumped <= before {
				t.Fatalf("Bump: got %d, want above %d", bumped, before)
			}
			want := before
			if tc.seen {
				want = bumped
			}
			if got := get(t, here); got != want {
				t.Errorf("Get after another process' Bump: got %d, want %d", got, want)
			}
			if got := get(t, other); got != bumped {
				t.Errorf("Get in the process that bumped: got %d, want %d", got, bumped)
			}
		})
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	c := core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	cases := []struct {
		name  string
		c     *core.Client
		key   string
		bound func(context.Context) (context.Context, context.CancelFunc)
	}{
		{"nil client", nil, "k", bound(time.Second)},
		{"empty key", c, "", bound(time.Second)},
		{"nil bound", c, "k", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r, _ := recover().(string); !strings.HasPrefix(r, "generation: ") {
					t.Errorf("New: got panic %q, want one starting \"generation: \"", r)
				}
			}()
			generation.New(tc.c, tc.key, time.Second, time.Second, tc.bound, nil)
		})
	}
}

// With Redis not answering before the number was ever read, concurrent
// callers share one read bounded by the call timeout, a caller may give
// up sooner on its own ctx, and for failFor after the read failed callers
// fail at once.
func TestColdReadRedisBlackholed(t *testing.T) {
	t.Parallel()
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	const timeout = 200 * time.Millisecond
	g := generation.New(core.NewFromRedis(rdb), redistest.Prefix(t)+":gen", time.Hour, timeout, bound(timeout), nil)
	p.Blackhole()

	short, cancel := context.WithTimeout(context.Background(), timeout/10)
	defer cancel()
	start := time.Now()
	if _, err := g.Get(short); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > timeout/2 {
		t.Errorf("Get with a short ctx: got %v after %v, want its deadline within %v", err, time.Since(start), timeout/2)
	}

	const n = 20
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = g.Get(context.Background())
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] == nil || !strings.HasPrefix(errs[i].Error(), "generation: read ") || took[i] > 2*timeout {
			t.Errorf("caller %d of %d concurrent: got %v after %v, want a \"generation: read \" error within %v", i, n, errs[i], took[i], 2*timeout)
		}
	}
	start = time.Now()
	if _, err := g.Get(context.Background()); err == nil || time.Since(start) > timeout/2 {
		t.Errorf("Get right after the failed read: got %v after %v, want an error well within %v", err, time.Since(start), timeout)
	}
	p.Restore()
	poll(t, "Get to succeed once Redis answers", func() bool {
		_, err := g.Get(context.Background())
		return err == nil
	})
}

// A failed reread keeps the known number and is reported to onError.
func TestRefreshErrorKeepsNumber(t *testing.T) {
	t.Parallel()
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	var reported atomic.Pointer[error]
	g := newCache(rdb, redistest.Prefix(t)+":gen", time.Nanosecond, func(_ context.Context, err error) { reported.Store(&err) })
	want := get(t, g)
	p.Cut()
	if got := get(t, g); got != want {
		t.Errorf("Get with Redis cut: got %d, want the known %d", got, want)
	}
	if err := reported.Load(); err == nil || !strings.HasPrefix((*err).Error(), "generation: read ") {
		t.Errorf("onError: got %v, want a \"generation: read \" error", err)
	}
}

// A reread that raced with this process' Bump (it read the number before
// Bump incremented it) never moves the number back.
func TestNeverGoesBackAfterBump(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		key := tc.Prefix + ":gen"
		var g *generation.Cache
		var bumped atomic.Int64
		armed := make(chan struct{}, 1)
		rdb := redistest.NewClient(t, tc.Target)
		rdb.AddHook(afterHook(func(ctx context.Context, cmd redis.Cmder) {
			if cmd.Err() != nil || cmd.Name() != "evalsha" || len(cmd.Args()) < 4 || cmd.Args()[3] != key {
				return
			}
			select {
			case <-armed: // Bump lands after the reread got its answer
				n, err := g.Bump(ctx)
				if err != nil {
					t.Errorf("Bump: %v", err)
				}
				bumped.Store(n)
			default:
			}
		}))
		g = newCache(rdb, key, time.Nanosecond, nil)
		get(t, g)
		get(t, g) // the scripts are loaded: the next reread is an EVALSHA
		armed <- struct{}{}
		got := get(t, g)
		if len(armed) != 0 {
			t.Fatal("Get did not reread the number")
		}
		if want := bumped.Load(); got != want {
			t.Errorf("Get whose reread raced Bump: got %d, want the bumped %d", got, want)
		}
	})
}

// A key lost after Bump (eviction, failover, DEL) never brings an old
// number back, in the process that bumped and in another one.
func TestLostKeyNeverGoesBack(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		key := tc.Prefix + ":gen"
		here := newCache(tc.RDB, key, time.Nanosecond, nil)
		other := newCache(redistest.NewClient(t, tc.Target), key, time.Nanosecond, nil)
		get(t, here)
		get(t, other)
		bumped := bump(t, here)
		// The contract holds once the server clock passed the bumped
		// number (fewer bumps than milliseconds since the key was made).
		poll(t, "the server clock to pass the bumped number", func() bool {
			now, err := tc.RDB.Time(context.Background()).Result()
			return err == nil && now.UnixMilli() > bumped
		})
		if err := tc.RDB.Del(context.Background(), key).Err(); err != nil {
			t.Fatal(err)
		}
		for name, g := range map[string]*generation.Cache{"bumping": here, "other": other} {
			if got := get(t, g); got <= bumped {
				t.Errorf("%s process after Bump and a lost key: got %d, want above %d", name, got, bumped)
			}
		}
	})
}

// afterHook calls fn after every single command.
type afterHook func(context.Context, redis.Cmder)

func (h afterHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h afterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h(ctx, cmd)
		return err
	}
}
func (h afterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Reread sees another process's Bump at once, whatever refresh says; before
// the first read it is Get.
func TestReread(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	key := redistest.Prefix(t) + ":gen"
	here := newCache(redistest.NewClient(t, target), key, time.Hour, nil)
	other := newCache(redistest.NewClient(t, target), key, time.Hour, nil)
	first, err := here.Reread(context.Background())
	if err != nil || first != get(t, other) {
		t.Fatalf("Reread before any read: got (%d, %v), want (%d, nil)", first, err, get(t, other))
	}
	bumped := bump(t, other)
	if got := get(t, here); got != first {
		t.Fatalf("Get within refresh: got %d, want %d", got, first)
	}
	if got, err := here.Reread(context.Background()); got != bumped || err != nil {
		t.Fatalf("Reread after another process' Bump: got (%d, %v), want (%d, nil)", got, err, bumped)
	}
}
