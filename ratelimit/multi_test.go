package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// newMulti returns a Multi limiter over tc with the given policies and clock.
func newMulti(t *testing.T, tc redistest.Case, clk *clock, policies []ratelimit.Policy) *ratelimit.RedisLimiter {
	t.Helper()
	m, err := ratelimit.NewMulti(core.NewFromRedis(tc.RDB), ratelimit.Options{
		Policies: policies, Namespace: tc.Prefix, Timeout: 10 * time.Second, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMultiAllOrNothing(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		clk := midWindow(time.Hour)
		m := newMulti(t, tc, clk, []ratelimit.Policy{{Name: "burst", Limit: 3, Window: time.Minute}, {Name: "hourly", Limit: 5, Window: time.Hour}})
		ctx := context.Background()
		steps := []struct {
			advance   time.Duration
			n         int
			allowed   bool
			policy    string
			remaining int
		}{
			{0, 1, true, "burst", 2},
			{0, 2, true, "burst", 0},
			{0, 1, false, "burst", 0},            // burst full: hourly must not move
			{time.Minute, 3, false, "hourly", 2}, // burst fits 3, hourly has 2: neither moves
			{0, 2, true, "hourly", 0},            // burst 2/3, hourly 5/5: hourly is the tightest
		}
		for i, s := range steps {
			clk.Add(s.advance)
			res, err := m.AllowN(ctx, "k", s.n)
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed != s.allowed || res.Policy != s.policy || res.Remaining != s.remaining {
				t.Errorf("step %d: got allowed=%v policy=%s remaining=%d, want %v %s %d",
					i, res.Allowed, res.Policy, res.Remaining, s.allowed, s.policy, s.remaining)
			}
		}
		peek, err := m.Peek(ctx, "k")
		if err != nil || peek.Allowed || peek.Policy != "hourly" {
			t.Errorf("Peek: got %+v, %v, want denied by hourly", peek, err)
		}
		if err := m.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if res, err := m.Allow(ctx, "k"); err != nil || !res.Allowed {
			t.Errorf("after Reset: got %+v, %v, want allowed", res, err)
		}
	})
}

// A local denial repeats what Redis answered: the denying policy, no units
// left, and the time until that policy's window resets.
func TestMultiLocalDenialNamesThePolicy(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		clk := midWindow(time.Hour)
		m := newMulti(t, tc, clk, []ratelimit.Policy{{Name: "hourly", Limit: 100, Window: time.Hour}, {Name: "burst", Limit: 2, Window: time.Minute}})
		ctx := context.Background()
		for range 2 {
			if res, err := m.Allow(ctx, "k"); err != nil || !res.Allowed {
				t.Fatalf("got %+v, %v, want allowed", res, err)
			}
		}
		left := clk.Now().Truncate(time.Minute).Add(time.Minute).Sub(clk.Now())
		want := ratelimit.Result{Limit: 2, ResetAfter: left, RetryAfter: left, Policy: "burst", Window: time.Minute}
		if res, err := m.Allow(ctx, "k"); err != nil || res != want {
			t.Fatalf("denied by Redis: got %+v, %v, want %+v", res, err, want)
		}
		clk.Add(time.Second)
		want.ResetAfter, want.RetryAfter, want.Local = left-time.Second, left-time.Second, true
		if res, err := m.Allow(ctx, "k"); err != nil || res != want {
			t.Errorf("denied locally: got %+v, %v, want %+v", res, err, want)
		}
	})
}

func TestMultiConcurrent(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		clk := midWindow(time.Hour)
		opts := ratelimit.Options{
			Policies:  []ratelimit.Policy{{Name: "minute", Limit: 10, Window: time.Minute}, {Name: "hour", Limit: 1000, Window: time.Hour}},
			Namespace: tc.Prefix, Timeout: 10 * time.Second, Now: clk.Now, DenyCacheSize: -1,
		}
		m, err := ratelimit.NewMulti(core.NewFromRedis(tc.RDB), opts)
		if err != nil {
			t.Fatal(err)
		}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				res, err := m.Allow(context.Background(), "k")
				if err != nil {
					t.Error(err)
				}
				if res.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if allowed.Load() != 10 {
			t.Errorf("got %d allowed, want 10", allowed.Load())
		}
		// The hour counter moved only for the allowed requests.
		opts.Policies = opts.Policies[1:]
		hourOnly, _ := ratelimit.NewMulti(core.NewFromRedis(tc.RDB), opts)
		if res, err := hourOnly.Peek(context.Background(), "k"); err != nil || res.Remaining != 990 {
			t.Errorf("hour counter: got %+v, %v, want 990 remaining", res, err)
		}
	})
}

func TestNewMultiValidates(t *testing.T) {
	t.Parallel()
	c := core.NewFromRedis(redistest.Standalone(t))
	for _, ps := range [][]ratelimit.Policy{
		nil,
		{{Name: "a", Limit: 1, Window: time.Second}, {Name: "a", Limit: 2, Window: time.Hour}},
		{{Name: "", Limit: 1, Window: time.Second}},
		{{Name: "a", Limit: 0, Window: time.Second}},
	} {
		if _, err := ratelimit.NewMulti(c, ratelimit.Options{Policies: ps}); !errors.Is(err, ratelimit.ErrInvalidOptions) {
			t.Errorf("NewMulti(%v): got %v, want ErrInvalidOptions", ps, err)
		}
	}
}

func TestGCRA(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		g, err := ratelimit.NewGCRA(core.NewFromRedis(tc.RDB), ratelimit.Options{
			Limit: 1, Window: time.Hour, Burst: 3, Namespace: tc.Prefix, Policy: "smooth", Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if res, err := g.Peek(ctx, "k"); err != nil || !res.Allowed || res.Remaining != 3 {
			t.Errorf("Peek before: got %+v, %v, want allowed with 3 remaining", res, err)
		}
		for i := range 3 {
			res, err := g.Allow(ctx, "k")
			if err != nil || !res.Allowed || res.Remaining != 2-i || res.Policy != "smooth" || res.Limit != 3 {
				t.Errorf("request %d: got %+v, %v, want allowed with %d remaining", i+1, res, err, 2-i)
			}
		}
		res, err := g.Allow(ctx, "k")
		if err != nil || res.Allowed || res.RetryAfter < 59*time.Minute || res.RetryAfter > time.Hour {
			t.Errorf("request 4: got %+v, %v, want denied, retry after about 1h", res, err)
		}
		if res, _ := g.Allow(ctx, "k"); !res.Local {
			t.Errorf("request 5: got %+v, want a local denial", res)
		}
		if res, err := g.Peek(ctx, "k"); err != nil || res.Allowed || res.RetryAfter < 59*time.Minute {
			t.Errorf("Peek after: got %+v, %v, want denied for about 1h", res, err)
		}
		if n := countKeys(t, tc.RDB, tc.Prefix+":gcra:{k}:smooth:3600000"); n != 1 {
			t.Errorf("keys under %s:gcra:{k}:smooth:3600000: got %d, want 1", tc.Prefix, n)
		}
		if err := g.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if res, err := g.Allow(ctx, "k"); err != nil || !res.Allowed {
			t.Errorf("after Reset: got %+v, %v, want allowed", res, err)
		}
		if _, err := g.AllowN(ctx, "k", 4); !errors.Is(err, ratelimit.ErrInvalidCost) {
			t.Errorf("AllowN above burst: got %v, want ErrInvalidCost", err)
		}
	})
}
