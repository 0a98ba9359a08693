package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// paths are the two ways a fixed window decides: the batched MULTI (the
// default on a standalone Redis 7+) and the Lua script (clusters, costs
// above 1, servers before Redis 7).
var paths = []struct {
	name   string
	script bool
}{{"batched", false}, {"script", true}}

// forEachPath runs fn in parallel for each path and each deployment
// (redistest.ForEach), checking afterwards that no counter was left without
// a TTL.
func forEachPath(t *testing.T, fn func(t *testing.T, tc redistest.Case, script bool)) {
	t.Parallel()
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				checkTTLs(t, tc.RDB, tc.Prefix)
				fn(t, tc, p.script)
			})
		})
	}
}

func newFixed(t *testing.T, rdb redis.UniversalClient, opts ratelimit.Options, script bool) *ratelimit.RedisLimiter {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // -race on a busy machine; the default is tested apart
	}
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), opts)
	if err != nil {
		t.Fatal(err)
	}
	if script {
		ratelimit.ForceScript(l)
	}
	return l
}

func TestFixedWindowExactUnderConcurrency(t *testing.T) {
	forEachPath(t, func(t *testing.T, tc redistest.Case, script bool) {
		clk := midWindow(time.Minute)
		// Four processes: separate clients, separate limiters, one Redis.
		var lims []*ratelimit.RedisLimiter
		for range 4 {
			rdb := redistest.NewClient(t, tc.Target)
			lims = append(lims, newFixed(t, rdb, ratelimit.Options{Limit: 100, Window: time.Minute,
				Namespace: tc.Prefix, Now: clk.Now, DenyCacheSize: -1}, script))
		}
		var allowed, denied atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2000 {
			wg.Go(func() {
				<-start
				res, err := lims[i%4].Allow(context.Background(), "client-a")
				switch {
				case err != nil:
					t.Error(err)
				case res.Allowed:
					allowed.Add(1)
				default:
					denied.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if allowed.Load() != 100 || denied.Load() != 1900 {
			t.Errorf("got %d allowed, %d denied, want 100, 1900", allowed.Load(), denied.Load())
		}
	})
}

func TestFixedWindowSequence(t *testing.T) {
	forEachPath(t, func(t *testing.T, tc redistest.Case, script bool) {
		clk := midWindow(time.Minute)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 3, Window: time.Minute, Namespace: tc.Prefix,
			Policy: "per-minute", Now: clk.Now}, script)
		ctx := context.Background()
		left := windowStart(time.Minute).Add(time.Minute).Sub(clk.Now())
		want := []ratelimit.Result{
			{Allowed: true, Limit: 3, Remaining: 2, ResetAfter: left, Policy: "per-minute", Window: time.Minute},
			{Allowed: true, Limit: 3, Remaining: 1, ResetAfter: left, Policy: "per-minute", Window: time.Minute},
			{Allowed: true, Limit: 3, Remaining: 0, ResetAfter: left, Policy: "per-minute", Window: time.Minute},
			{Allowed: false, Limit: 3, Remaining: 0, ResetAfter: left, RetryAfter: left, Policy: "per-minute", Window: time.Minute},
			{Allowed: false, Limit: 3, Remaining: 0, ResetAfter: left, RetryAfter: left, Policy: "per-minute", Window: time.Minute, Local: true},
		}
		for i, w := range want {
			got, err := l.Allow(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("request %d: got %+v, want %+v", i+1, got, w)
			}
		}
		if st := l.Stats(); st != (ratelimit.Stats{Allowed: 3, Denied: 2, LocalDenied: 1}) {
			t.Errorf("Stats: got %+v, want 3 allowed, 2 denied of which 1 locally", st)
		}
		// Rollover: the next window starts from zero.
		clk.Add(time.Minute)
		got, err := l.Allow(ctx, "k")
		if err != nil || !got.Allowed || got.Remaining != 2 {
			t.Errorf("after rollover: got %+v, %v, want allowed with 2 remaining", got, err)
		}
	})
}

func TestFixedWindowAllowNConsumesNothingWhenDenied(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		clk := midWindow(time.Hour)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 10, Window: time.Hour, Namespace: tc.Prefix, Now: clk.Now}, false)
		ctx := context.Background()
		steps := []struct {
			n             int
			wantAllowed   bool
			wantRemaining int
		}{{6, true, 4}, {5, false, 4}, {4, true, 0}, {1, false, 0}}
		for i, s := range steps {
			got, err := l.AllowN(ctx, "k", s.n)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != s.wantAllowed || got.Remaining != s.wantRemaining {
				t.Errorf("step %d AllowN(%d): got allowed=%v remaining=%d, want %v %d",
					i, s.n, got.Allowed, got.Remaining, s.wantAllowed, s.wantRemaining)
			}
		}
		for _, n := range []int{0, -1, 11} {
			if _, err := l.AllowN(ctx, "k", n); !errors.Is(err, ratelimit.ErrInvalidCost) {
				t.Errorf("AllowN(%d): got %v, want ErrInvalidCost", n, err)
			}
		}
	})
}

func TestFixedWindowRepairsKeyWithoutTTL(t *testing.T) {
	forEachPath(t, func(t *testing.T, tc redistest.Case, script bool) {
		clk := midWindow(time.Minute)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 10, Window: time.Minute, Namespace: tc.Prefix, Now: clk.Now}, script)
		ctx := context.Background()
		w := clk.Now().UnixNano() / int64(time.Minute)
		for _, c := range []struct {
			id          string
			preset      int
			wantAllowed bool
		}{{"under", 5, true}, {"over", 10, false}} {
			key := core.MakeKey(tc.Prefix, "fw", "{"+c.id+"}", "default", "60000", strconv.FormatInt(w, 10))
			if err := tc.RDB.Set(ctx, key, c.preset, 0).Err(); err != nil {
				t.Fatal(err)
			}
			res, err := l.Allow(ctx, c.id)
			if err != nil || res.Allowed != c.wantAllowed {
				t.Errorf("%s: got %+v, %v, want allowed=%v", c.id, res, err, c.wantAllowed)
			}
			ttl := tc.RDB.PTTL(ctx, key).Val()
			if ttl <= 0 || ttl > 61*time.Second {
				t.Errorf("%s: TTL after Allow: got %v, want in (0, 61s]", c.id, ttl)
			}
		}
	})
}

func TestFixedWindowPeekAndReset(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		clk := midWindow(time.Minute)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 2, Window: time.Minute, Namespace: tc.Prefix, Now: clk.Now}, false)
		ctx := context.Background()
		peek := func(wantAllowed bool, wantRemaining int) {
			t.Helper()
			res, err := l.Peek(ctx, "k")
			if err != nil || res.Allowed != wantAllowed || res.Remaining != wantRemaining {
				t.Errorf("Peek: got %+v, %v, want allowed=%v remaining=%d", res, err, wantAllowed, wantRemaining)
			}
		}
		peek(true, 2)
		for range 3 {
			if _, err := l.Allow(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
		peek(false, 0)
		if err := l.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		peek(true, 2)
		if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed || res.Local {
			t.Errorf("Allow after Reset: got %+v, %v, want allowed from Redis", res, err)
		}
	})
}

// TestDenyCacheSkipsRedis counts round trips: one per decision, none for a
// client already over its limit.
func TestDenyCacheSkipsRedis(t *testing.T) {
	forEachPath(t, func(t *testing.T, tc redistest.Case, script bool) {
		var hook cmdCounter
		tc.RDB.AddHook(&hook)
		clk := midWindow(time.Minute)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 5, Window: time.Minute, Namespace: tc.Prefix, Now: clk.Now}, script)
		ctx := context.Background()
		if _, err := l.Allow(ctx, "warm"); err != nil { // loads the script, discovers the cluster
			t.Fatal(err)
		}
		for i := range 6 {
			before := hook.trips.Load()
			if _, err := l.Allow(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if got := hook.trips.Load() - before; got != 1 {
				t.Errorf("decision %d: got %d round trips, want 1", i+1, got)
			}
		}
		before := hook.trips.Load()
		for range 100 {
			res, err := l.Allow(ctx, "k")
			if err != nil || res.Allowed || !res.Local {
				t.Fatalf("got %+v, %v, want a local denial", res, err)
			}
		}
		if got := hook.trips.Load() - before; got != 0 {
			t.Errorf("after a denial: got %d round trips for 100 requests, want 0", got)
		}
		clk.Add(time.Minute) // the next window asks Redis again
		if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
			t.Errorf("next window: got %+v, %v, want allowed", res, err)
		}
	})
}

func TestOnDecision(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	var mu sync.Mutex
	var got []ratelimit.Decision
	l := newFixed(t, rdb, ratelimit.Options{Limit: 1, Window: time.Minute, Namespace: prefix, Now: midWindow(time.Minute).Now,
		OnDecision: func(d ratelimit.Decision) { mu.Lock(); got = append(got, d); mu.Unlock() }}, false)
	for range 3 {
		if _, err := l.Allow(context.Background(), "k"); err != nil {
			t.Fatal(err)
		}
	}
	want := []ratelimit.Decision{{Key: "k", Allowed: true}, {Key: "k"}, {Key: "k", Local: true}}
	if len(got) != len(want) {
		t.Fatalf("got %d decisions, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Latency <= 0 {
			t.Errorf("decision %d: got latency %v, want > 0", i, got[i].Latency)
		}
		got[i].Latency = 0
		if got[i] != want[i] {
			t.Errorf("decision %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLongAndBracedKeysAreHashed(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		l := newFixed(t, tc.RDB, ratelimit.Options{Limit: 1, Window: time.Minute, Namespace: tc.Prefix,
			Now: midWindow(time.Minute).Now}, false)
		ctx := context.Background()
		long := string(make([]byte, 5000))
		for _, k := range []string{"a}b{c", long, "{x}"} {
			res, err := l.Allow(ctx, k)
			if err != nil || !res.Allowed {
				t.Errorf("first Allow(%.10q): got %+v, %v, want allowed", k, res, err)
			}
			if res, _ := l.Allow(ctx, k); res.Allowed {
				t.Errorf("second Allow(%.10q): got allowed, want denied", k)
			}
		}
		iter := tc.RDB.Scan(ctx, 0, tc.Prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			if len(iter.Val()) > len(tc.Prefix)+80 {
				t.Errorf("key %q: got %d bytes, want a hashed id", iter.Val()[:60], len(iter.Val()))
			}
		}
		if _, err := l.Allow(ctx, ""); !errors.Is(err, ratelimit.ErrInvalidKey) {
			t.Errorf("empty key: got %v, want ErrInvalidKey", err)
		}
	})
}

// TestUnsupportedNXFallsBackToScript runs the batched path against a server
// that refuses PEXPIRE NX as Redis 6 does: the aborted batch must change
// nothing, and the limiter must switch to the script for good.
func TestUnsupportedNXFallsBackToScript(t *testing.T) {
	t.Parallel()
	rdb := redistest.NewClient(t, redistest.StandaloneTarget(t))
	refuse := &refuseNX{}
	rdb.AddHook(refuse)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	l := newFixed(t, rdb, ratelimit.Options{Limit: 2, Window: time.Minute, Namespace: prefix, Now: midWindow(time.Minute).Now}, false)
	if !ratelimit.Batched(l) {
		t.Fatal("got script path on a standalone server, want batched")
	}
	got := make([]bool, 3)
	for i := range got {
		res, err := l.Allow(context.Background(), "k")
		if err != nil {
			t.Fatal(err)
		}
		got[i] = res.Allowed
	}
	if fmt.Sprint(got) != "[true true false]" {
		t.Errorf("got %v, want [true true false]", got)
	}
	if ratelimit.Batched(l) {
		t.Error("got batched after PEXPIRE NX was refused, want the script")
	}
	if n := refuse.refused.Load(); n != 1 {
		t.Errorf("batches with PEXPIRE NX sent: got %d, want 1", n)
	}
	// The error texts Redis 6 gives for PEXPIRE ... NX.
	for _, msg := range []string{"ERR wrong number of arguments for 'pexpire' command", "ERR syntax error"} {
		if !ratelimit.IsUnsupportedNX(errors.New(msg)) {
			t.Errorf("IsUnsupportedNX(%q): got false, want true", msg)
		}
	}
	if ratelimit.IsUnsupportedNX(errors.New("OOM command not allowed")) {
		t.Error("IsUnsupportedNX(OOM): got true, want false")
	}
}

// refuseNX makes a Redis 7 server refuse PEXPIRE … NX in a transaction as
// servers before Redis 7 do: there PEXPIRE takes exactly two arguments, so
// queueing it with NX fails ("wrong number of arguments") and EXEC aborts.
// It sends the command as GETSET, whose arity is exactly that.
type refuseNX struct{ refused atomic.Int32 }

func (*refuseNX) DialHook(next redis.DialHook) redis.DialHook { return next }

func (*refuseNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *refuseNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		refused := false
		for _, cmd := range cmds {
			if args := cmd.Args(); cmd.Name() == "pexpire" && len(args) == 4 && args[3] == "nx" {
				args[0], refused = "getset", true
			}
		}
		if refused {
			h.refused.Add(1)
		}
		return next(ctx, cmds)
	}
}

func TestNewFixedWindowValidates(t *testing.T) {
	t.Parallel()
	c := core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	bad := []ratelimit.Options{{Limit: -1}, {Window: time.Microsecond}, {Policy: `a"b`}, {Timeout: -time.Second}}
	for _, o := range bad {
		if _, err := ratelimit.NewFixedWindow(c, o); !errors.Is(err, ratelimit.ErrInvalidOptions) {
			t.Errorf("NewFixedWindow(%+v): got %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := ratelimit.NewFixedWindow(nil, ratelimit.Options{}); !errors.Is(err, ratelimit.ErrInvalidOptions) {
		t.Errorf("nil client: got %v, want ErrInvalidOptions", err)
	}
}
