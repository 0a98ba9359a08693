package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// kinds builds one limiter of every kind (10 units per hour, clock pinned
// mid-window) over rdb under prefix.
func kinds(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock) map[string]ratelimit.Limiter {
	t.Helper()
	return kindsTimeout(t, rdb, prefix, clk, 10*time.Second) // -race on a busy machine
}

func kindsTimeout(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock, to time.Duration) map[string]ratelimit.Limiter {
	t.Helper()
	return kindsOpts(t, rdb, prefix, clk, to, func(context.Context, error) {})
}

// kindsOpts is kindsTimeout with the limiters' OnError.
func kindsOpts(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock, to time.Duration, onError core.ErrorHandler) map[string]ratelimit.Limiter {
	t.Helper()
	c := core.NewFromRedis(rdb)
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 10, Window: time.Hour, Namespace: prefix, Now: clk.Now, Timeout: to, OnError: onError})
	fs, err2 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 10, Window: time.Hour, Namespace: prefix + "s", Now: clk.Now, Timeout: to, OnError: onError})
	g, err3 := ratelimit.NewGCRA(c, ratelimit.Options{Limit: 10, Window: time.Hour, Namespace: prefix, Now: clk.Now, Timeout: to, OnError: onError})
	m, err4 := ratelimit.NewMulti(c, ratelimit.Options{Namespace: prefix, Now: clk.Now, Timeout: to, OnError: onError,
		Policies: []ratelimit.Policy{{Name: "h", Limit: 10, Window: time.Hour}, {Name: "d", Limit: 100, Window: 24 * time.Hour}}})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	ratelimit.ForceScript(fs)
	return map[string]ratelimit.Limiter{"fixed-batched": fw, "fixed-script": fs, "gcra": g, "multi": m}
}

// A connection reset after Redis ran a decision (reply lost) makes go-redis
// see a network error; it must not resend the decision (MaxRetries is at its
// default of 3 here). The hit is counted exactly once and the call fails.
func TestResetDuringDecisionCountsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	direct := srv.Client(t, nil)
	for _, name := range []string{"fixed-batched", "fixed-script", "gcra", "multi"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := faultproxy.New(t, srv.Addr())
			c, err := core.New(core.Config{URL: "redis://" + p.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			clk := midWindow(time.Hour)
			prefix := redistest.Prefix(t)
			checkTTLs(t, direct, prefix)
			lim := kinds(t, c.Redis(), prefix, clk)[name]
			check := kinds(t, direct, prefix, clk)[name]
			ctx := context.Background()
			for range 3 { // warm: connections open, scripts cached
				if _, err := lim.Allow(ctx, "warm"); err != nil {
					t.Fatalf("warm-up: %v", err)
				}
			}
			for i := range 2 {
				if res, err := lim.Allow(ctx, "k"); err != nil || !res.Allowed {
					t.Fatalf("hit %d: got %+v, %v, want allowed", i, res, err)
				}
			}
			p.ResetNext()
			if res, err := lim.Allow(ctx, "k"); err == nil || res.Allowed {
				t.Fatalf("decision with a reset connection: got %+v, %v, want an error", res, err)
			}
			res, err := check.Peek(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Limit - res.Remaining; got != 3 {
				t.Fatalf("hits counted after 2 decisions and 1 reset one: got %d, want 3 (the reset one exactly once)", got)
			}
			if res, err := lim.Allow(ctx, "k"); err != nil || res.Remaining != 6 {
				t.Fatalf("after the reset: got %+v, %v, want allowed with 6 left", res, err)
			}
		})
	}
}

// A counter evicted under allkeys-lru restarts that client's window (the
// documented fail-open direction); the limiter keeps deciding, no error.
func TestEvictedCounterRestartsWindow(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"}})
	rdb := srv.Client(t, nil)
	checkTTLs(t, rdb, "rl") // the filler keys are outside "rl"
	clk := midWindow(time.Hour)
	lim := kinds(t, rdb, "rl", clk)["fixed-script"]
	ctx := context.Background()
	for range 10 {
		if _, err := lim.Allow(ctx, "victim"); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := lim.Peek(ctx, "victim"); res.Remaining != 0 {
		t.Fatalf("before eviction: got %d left, want 0", res.Remaining)
	}
	lim = kinds(t, rdb, "rl", clk)["fixed-script"] // a fresh deny cache: ask Redis
	// Fill Redis until it evicts the counter: every filler write past 2 MB
	// evicts sampled least-recently-used keys, and the counter is the
	// least recently used of all, so it goes within a few hundred writes.
	// The loop is bounded: a counter that survives fails the test.
	counter := "rls:fw:{victim}:default:3600000:" + fmt.Sprint(clk.Now().UnixNano()/int64(time.Hour))
	filler := strings.Repeat("x", 16<<10)
	const maxFills = 8000 // 128 MB through a 2 MB Redis
	fills := 0
	for ; fills < maxFills && rdb.Exists(ctx, counter).Val() != 0; fills++ {
		if err := rdb.Set(ctx, fmt.Sprint("fill:", fills), filler, 0).Err(); err != nil {
			t.Fatalf("filling: %v", err)
		}
	}
	if fills == maxFills {
		t.Fatalf("the counter survived %d MB of filler under a 2 MB maxmemory with allkeys-lru", maxFills*16>>10)
	}
	if res, err := lim.Allow(ctx, "victim"); err != nil || !res.Allowed || res.Remaining != 9 {
		t.Fatalf("after eviction: got %+v, %v, want a fresh window (allowed, 9 left)", res, err)
	}
}

// Hostile ids cannot pick a slot, reach another id's counter or a pattern:
// braces and long ids are hashed, glob characters are plain bytes.
func TestHostileKeysStayApart(t *testing.T) {
	t.Parallel()
	ids := []string{"victim", "{victim}", "x{victim}", "victim}", "{}", "*", "victim*", "[v]ictim", "?", `\`, "a:b",
		strings.Repeat("v", 129), "user:{victim}|route:/"}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		ctx := context.Background()
		clk := midWindow(time.Hour)
		for name, lim := range kinds(t, tc.RDB, tc.Prefix, clk) {
			for i, id := range ids {
				for range i + 1 {
					if _, err := lim.Allow(ctx, id); err != nil {
						t.Fatalf("%s Allow(%q): %v", name, id, err)
					}
				}
			}
			for i, id := range ids {
				if res, err := lim.Peek(ctx, id); err != nil || res.Limit-res.Remaining != min(i+1, 10) {
					t.Fatalf("%s Peek(%q): got %+v, %v, want %d used", name, id, res, err, min(i+1, 10))
				}
			}
			if err := lim.Reset(ctx, "*"); err != nil {
				t.Fatal(err)
			}
			if res, _ := lim.Peek(ctx, "victim"); res.Limit-res.Remaining != 1 {
				t.Fatalf("%s: Reset(\"*\") touched \"victim\": got %d used, want 1", name, res.Limit-res.Remaining)
			}
		}
		allowed := map[string]bool{}
		for _, id := range ids {
			if len(id) <= 128 && !strings.ContainsAny(id, "{}") {
				allowed[id] = true
			}
		}
		err := forEachKey(tc.RDB, tc.Prefix, func(_ *redis.Client, key string) {
			open, shut := strings.Index(key, "{"), strings.Index(key, "}")
			if strings.Count(key, "{") != 1 || strings.Count(key, "}") != 1 || shut < open || len(key) > 250 {
				t.Errorf("key %q: want exactly one {tag} and at most 250 bytes", key)
				return
			}
			if tag := key[open+1 : shut]; !allowed[tag] && !(strings.HasPrefix(tag, "#") && len(tag) == 33) {
				t.Errorf("key %q: tag %q is neither a plain id nor a hash", key, tag)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A 1 MiB URL through the middleware, keyed by path: no panic, a normal
// answer, and a short, hashed Redis key.
func TestHugeURLThroughMiddleware(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	lim := kinds(t, rdb, prefix, midWindow(time.Hour))["fixed-batched"]
	g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: lim, FailClosed: true,
		Key: ratelimit.KeyByRoute(func(r *http.Request) string { return r.URL.Path })})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	path := "/" + strings.Repeat("a{*}", 1<<18)
	for i, want := range []string{"9", "8"} {
		w := httptest.NewRecorder()
		g.Serve(w, httptest.NewRequest("GET", path, nil), next)
		if w.Code != http.StatusNoContent || !strings.Contains(w.Header().Get("RateLimit"), ";r="+want+";") {
			t.Fatalf("request %d: got %d, RateLimit %q, want 204 with r=%s", i, w.Code, w.Header().Get("RateLimit"), want)
		}
	}
	keys := 0
	err = forEachKey(rdb, prefix, func(_ *redis.Client, key string) {
		keys++
		if len(key) > 200 {
			t.Errorf("key of %d bytes, want the id hashed", len(key))
		}
	})
	if err != nil || keys != 1 {
		t.Fatalf("keys under the prefix: got %d (%v), want 1", keys, err)
	}
}
