package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// commandCalls returns how many times Redis ran each command so far (INFO
// commandstats: commands run by scripts and inside MULTI included).
func commandCalls(t *testing.T, rdb *redis.Client) map[string]int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, m := range regexp.MustCompile(`cmdstat_(\w+):calls=(\d+)`).FindAllStringSubmatch(info, -1) {
		calls[m[1]], _ = strconv.Atoi(m[2])
	}
	return calls
}

// One batch of many decisions on one hot key is one write of the key in
// Redis (one INCRBY by the batch's size on the transaction path), the
// scripts reading every key of the batch with one MGET, and each decision still gets its own place: with limit L, exactly
// the first L in queue order pass. Decisions on other keys in the same
// batch are unaffected.
func TestBatchCoalescesHotKey(t *testing.T) {
	t.Parallel()
	const limit, hot = 10, 25
	kinds := []struct {
		name   string
		make   func(c *core.Client) (*ratelimit.RedisLimiter, error)
		script bool
		writes []string // the commands that write the hot key
	}{
		{"fixed-batched", func(c *core.Client) (*ratelimit.RedisLimiter, error) {
			return ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: limit, Window: time.Hour, Timeout: 10 * time.Second})
		}, false, []string{"incrby"}},
		{"fixed-script", func(c *core.Client) (*ratelimit.RedisLimiter, error) {
			return ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: limit, Window: time.Hour, Timeout: 10 * time.Second})
		}, true, []string{"set", "incrby"}},
		{"gcra", func(c *core.Client) (*ratelimit.RedisLimiter, error) {
			return ratelimit.NewGCRA(c, ratelimit.Options{Limit: limit, Window: time.Hour, Timeout: 10 * time.Second})
		}, false, []string{"set"}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.StartServer(t, redistest.ServerOptions{}).Client(t, nil)
			l, err := k.make(core.NewFromRedis(rdb))
			if err != nil {
				t.Fatal(err)
			}
			if k.script {
				ratelimit.ForceScript(l)
			}
			if _, err := l.Allow(context.Background(), "warm"); err != nil { // the script loaded
				t.Fatal(err)
			}
			keys := []string{"other"}
			for range hot {
				keys = append(keys, "tenant")
			}
			keys = append(keys, "another")
			before := commandCalls(t, rdb)
			allowed, errs := ratelimit.BatchAllow(l, keys)
			after := commandCalls(t, rdb)
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			want := []bool{true}
			for i := range hot {
				want = append(want, i < limit)
			}
			want = append(want, true)
			if fmt.Sprint(allowed) != fmt.Sprint(want) {
				t.Errorf("allowed: got %v, want %v", allowed, want)
			}
			writes := 0
			for _, c := range k.writes {
				writes += after[c] - before[c]
			}
			if writes != 3 { // tenant, other, another: once each
				t.Errorf("writes (%v) for 3 keys in a batch: got %d, want 3", k.writes, writes)
			}
			if k.name != "fixed-batched" {
				if got := after["mget"] - before["mget"]; got != 1 {
					t.Errorf("reads (MGET) for a batch: got %d, want 1", got)
				}
				if got := after["evalsha"] - before["evalsha"]; got != 1 {
					t.Errorf("script calls for a batch: got %d, want 1", got)
				}
			}
			res, err := l.Peek(context.Background(), "tenant")
			if err != nil || res.Remaining != 0 {
				t.Errorf("Peek after %d decisions: got %+v, %v, want 0 remaining", hot, res, err)
			}
		})
	}
}

// A key holding something the limiter never writes (a value it cannot
// read, or another type) fails the decisions on it, with an error naming
// it, and only those: the other decisions of the same batch go through, and
// the key is left as it was.
func TestForeignValueFailsOnlyItsDecisions(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		for _, kind := range []string{"fixed-script", "gcra"} {
			var l *ratelimit.RedisLimiter
			var err error
			var key string
			if kind == "gcra" {
				l, err = ratelimit.NewGCRA(core.NewFromRedis(tc.RDB), ratelimit.Options{Namespace: tc.Prefix, Window: time.Hour})
				key = tc.Prefix + ":gcra:{bad}:default:3600000"
			} else {
				clk := midWindow(time.Hour)
				l, err = ratelimit.NewFixedWindow(core.NewFromRedis(tc.RDB), ratelimit.Options{Namespace: tc.Prefix,
					Window: time.Hour, Now: clk.Now})
				ratelimit.ForceScript(l)
				key = fmt.Sprintf("%s:fw:{bad}:default:3600000:%d", tc.Prefix, clk.Now().UnixNano()/int64(time.Hour))
			}
			if err != nil {
				t.Fatal(err)
			}
			foreign := []string{"abc", "1.5"} // the counters are integers
			if kind == "gcra" {
				foreign = []string{"abc"} // a time: any number will do
			}
			foreign = append(foreign, "hash") // another type: MGET reads it as missing
			for _, v := range foreign {
				var err error
				if v == "hash" {
					err = errors.Join(tc.RDB.Del(ctx, key).Err(), tc.RDB.HSet(ctx, key, "f", "v").Err())
				} else {
					err = tc.RDB.Set(ctx, key, v, time.Minute).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				allowed, errs := ratelimit.BatchAllow(l, []string{"good", "bad", "good"})
				if !allowed[0] || !allowed[2] || errs[0] != nil || errs[2] != nil {
					t.Errorf("%s, %q: the good key's decisions: got %v, %v, want allowed", kind, v, allowed, errs)
				}
				if errs[1] == nil || allowed[1] || !regexp.MustCompile(`^ratelimit: redis: .*\{bad\}`).MatchString(errs[1].Error()) {
					t.Errorf("%s, %q: the bad key's decision: got %v, %v, want an error naming it", kind, v, allowed[1], errs[1])
				}
				if v == "hash" {
					if got, _ := tc.RDB.HGet(ctx, key, "f").Result(); got != "v" {
						t.Errorf("%s: the foreign hash: got field f = %q, want %q untouched", kind, got, "v")
					}
				} else if got, _ := tc.RDB.Get(ctx, key).Result(); got != v {
					t.Errorf("%s: the foreign value: got %q, want %q untouched", kind, got, v)
				}
			}
		}
	})
}

// The GCRA keeps redis_rate's state in Redis: each reads what the other
// wrote, so the two can share a limit (and a rolling upgrade from a version
// that ran redis_rate's script loses nothing).
func TestGCRASharesRedisRateState(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	ctx := context.Background()
	g, err := ratelimit.NewGCRA(core.NewFromRedis(rdb), ratelimit.Options{Namespace: "rate", Policy: "compat",
		Limit: 2, Window: time.Hour, Burst: 4, DenyCacheSize: -1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := g.Reset(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Our key is rate:gcra:{id}:compat:3600000; redis_rate prefixes "rate:".
	peerKey := func(id string) string { return "gcra:{" + id + "}:compat:3600000" }
	peer, lim := redis_rate.NewLimiter(rdb), redis_rate.Limit{Rate: 2, Period: time.Hour, Burst: 4}

	// redis_rate spends 3 of 4: we see 1 left, take it, and are denied for
	// about one emission interval (30 min).
	if r, err := peer.AllowN(ctx, peerKey("a"), lim, 3); err != nil || r.Allowed != 3 {
		t.Fatalf("redis_rate AllowN 3: got %+v, %v", r, err)
	}
	if res, err := g.Peek(ctx, "a"); err != nil || res.Remaining != 1 {
		t.Errorf("Peek after redis_rate spent 3: got %+v, %v, want 1 remaining", res, err)
	}
	if res, err := g.Allow(ctx, "a"); err != nil || !res.Allowed || res.Remaining != 0 {
		t.Errorf("Allow: got %+v, %v, want allowed, 0 remaining", res, err)
	}
	res, err := g.Allow(ctx, "a")
	if err != nil || res.Allowed || res.RetryAfter < 29*time.Minute || res.RetryAfter > 30*time.Minute {
		t.Errorf("Allow beyond the burst: got %+v, %v, want denied for about 30m", res, err)
	}
	// We spend the burst: redis_rate is denied, with the same retry-after.
	if res, err := g.AllowN(ctx, "b", 4); err != nil || !res.Allowed {
		t.Fatalf("AllowN 4: got %+v, %v", res, err)
	}
	r, err := peer.Allow(ctx, peerKey("b"), lim)
	if err != nil || r.Allowed != 0 || r.RetryAfter < 29*time.Minute || r.RetryAfter > 30*time.Minute {
		t.Errorf("redis_rate after our burst: got %+v, %v, want denied for about 30m", r, err)
	}
}

// A decision whose ctx is already done is never sent: the caller gets the
// ctx's error and no unit is counted (on every batched path).
func TestCancelledDecisionNotCounted(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	for _, kind := range []string{"fixed-script", "gcra", "multi"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			opts := ratelimit.Options{Namespace: redistest.Prefix(t), Limit: 10000, Window: time.Hour}
			var l *ratelimit.RedisLimiter
			var err error
			switch kind {
			case "gcra":
				l, err = ratelimit.NewGCRA(core.NewFromRedis(rdb), opts)
			case "multi":
				l, err = ratelimit.NewMulti(core.NewFromRedis(rdb), ratelimit.Options{Namespace: opts.Namespace,
					Policies: []ratelimit.Policy{{Name: "hour", Limit: 10000, Window: time.Hour}, {Name: "day", Limit: 100000, Window: 24 * time.Hour}}})
			default:
				l, err = ratelimit.NewFixedWindow(core.NewFromRedis(rdb), opts)
				ratelimit.ForceScript(l)
			}
			if err != nil {
				t.Fatal(err)
			}
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			for range 1000 { // the old race counted about one in 200
				if _, err := l.AllowN(cancelled, "k", 2); !errors.Is(err, context.Canceled) {
					t.Fatalf("AllowN on a cancelled ctx: got %v, want context.Canceled", err)
				}
			}
			res, err := l.Peek(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if res.Remaining != 10000 {
				t.Errorf("after 1,000 cancelled decisions: %d remaining, want 10000 (nothing counted)", res.Remaining)
			}
		})
	}
}
