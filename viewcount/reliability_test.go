package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// A connection reset after Redis applied a write (reply lost) makes go-redis
// retry (MaxRetries at its default of 3): dedup and flush markers make the
// retry harmless, and writes that are not idempotent are sent at most once.
func TestResetDuringWriteCountsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	cases := []struct {
		name  string
		once  bool // not idempotent: sent at most once, so the reset call fails
		opts  viewcount.Options
		write func(ctx context.Context, c *viewcount.Counter) error
		want  func(s viewcount.Counts) bool // after 2 views before and the reset one
	}{
		{"direct dedup", false, viewcount.Options{}, func(ctx context.Context, c *viewcount.Counter) error {
			return c.Record(ctx, "item", "v-reset")
		}, func(s viewcount.Counts) bool { return s.Total == 3 && s.Unique == 3 }},
		{"direct no dedup", true, viewcount.Options{DedupWindow: -1}, func(ctx context.Context, c *viewcount.Counter) error {
			return c.Record(ctx, "item", "v-reset")
		}, func(s viewcount.Counts) bool { return s.Total == 3 }},
		{"bot", true, viewcount.Options{}, func(ctx context.Context, c *viewcount.Counter) error {
			return c.RecordBot(ctx, "item")
		}, func(s viewcount.Counts) bool { return s.Total == 2 && s.Bots == 1 }},
		{"buffered flush", false, viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour, DedupWindow: -1},
			func(ctx context.Context, c *viewcount.Counter) error {
				if err := c.Record(ctx, "item", "v-reset"); err != nil {
					return err
				}
				err := c.Flush(ctx)
				if err2 := c.Flush(ctx); err2 != nil { // a failed batch is retried under its markers
					return err2
				}
				return err
			}, func(s viewcount.Counts) bool { return s.Total == 3 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := faultproxy.New(t, srv.Addr())
			cc, err := core.New(core.Config{URL: "redis://" + p.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cc.Close() })
			ns := redistest.Prefix(t)
			c := newCounter(t, cc.Redis(), ns, tc.opts)
			ctx := context.Background()
			for i := range 2 { // also warms connections and scripts
				if err := c.Record(ctx, "item", fmt.Sprint("v", i)); err != nil {
					t.Fatal(err)
				}
				if err := errors.Join(c.Flush(ctx), c.RecordBot(ctx, "warm"), c.Flush(ctx)); err != nil {
					t.Fatal(err)
				}
				counts(t, c, "warm", 1)
			}
			p.ResetNext()
			err = tc.write(ctx, c)
			s := counts(t, newCounter(t, srv.Client(t, nil), ns, tc.opts), "item", 1)
			if !tc.want(s) {
				t.Fatalf("after a reset write (err %v): got %+v, want the reset write counted exactly once", err, s)
			}
			if tc.once && err == nil {
				t.Fatal("a write sent at most once: got nil error after a reset, want the reset reported")
			}
		})
	}
}

// Under eviction pressure (2 MB, filled far past it) totals never go
// backwards with volatile-lru: totals have no TTL, so only dedup markers,
// day buckets, rankings and flush markers can be evicted, and an evicted
// dedup marker lets a repeat view count again. Under allkeys-lru a total
// itself may be evicted (documented): the test shows views keep counting
// without error.
func TestTotalsUnderEviction(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"volatile-lru", "allkeys-lru"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", policy}})
			rdb := srv.Client(t, nil)
			c := newCounter(t, rdb, "vc", viewcount.Options{})
			ctx := context.Background()
			filler := strings.Repeat("x", 8<<10)
			var last int64
			repeatCounted := false
			for i := range 600 { // about 5 MB of filler, with TTLs like a cache's
				if err := rdb.Set(ctx, fmt.Sprint("fill:", i), filler, time.Hour).Err(); err != nil {
					t.Fatalf("filling: %v", err)
				}
				before := counts(t, c, "hot", 1).Total
				if err := c.Record(ctx, "hot", "same-visitor"); err != nil {
					t.Fatalf("Record under eviction: %v", err)
				}
				if err := c.Record(ctx, "hot", fmt.Sprint("v", i)); err != nil {
					t.Fatalf("Record under eviction: %v", err)
				}
				s := counts(t, c, "hot", 1)
				repeatCounted = repeatCounted || (i > 0 && s.Total == before+2)
				if policy == "volatile-lru" && s.Total < last {
					t.Fatalf("view %d: total went from %d back to %d", i, last, s.Total)
				}
				last = s.Total
			}
			if policy == "volatile-lru" && (last < 601 || !repeatCounted) {
				t.Fatalf("got total %d (repeat counted again: %v), want at least 601 with an evicted dedup marker", last, repeatCounted)
			}
		})
	}
}

// Item ids that spell the ranking tag or globs stay inside their own slot
// and keys: "{top}" is an item like any other.
func TestHostileItemsCannotReachRankings(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{DedupWindow: -1})
		for i, item := range []string{"{top}", "top", "*", "}:{top", "{top}:3600:0"} {
			for range i + 1 {
				if err := c.Record(ctx, item, "v"); err != nil {
					t.Fatal(err)
				}
			}
		}
		top, err := c.Top(ctx, 10, time.Hour)
		if err != nil || len(top) != 5 || top[0] != (viewcount.Ranked{Item: "{top}:3600:0", Views: 5}) || top[4] != (viewcount.Ranked{Item: "{top}", Views: 1}) {
			t.Fatalf("Top: got %v, %v, want 5 items, {top}:3600:0 first with 5 and {top} last with 1", top, err)
		}
		topSlot := core.Slot(tc.Prefix + ":{top}")
		keys, err := core.NewFromRedis(tc.RDB).FindKeys(ctx, tc.Prefix+":*", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			inTop := strings.HasPrefix(k, tc.Prefix+":{top}:")
			if inTop != (core.Slot(k) == topSlot) && !strings.HasPrefix(k, tc.Prefix+":{top}") {
				t.Errorf("key %q: an item key in the ranking slot", k)
			}
			if !inTop && strings.Contains(k, "{top}") {
				t.Errorf("key %q: an item id kept its braces", k)
			}
		}
	})
}

// Counter.Check and every feature under a least-privilege ACL user; a
// missing permission is named at start-up.
func TestACLUserAndCheck(t *testing.T) {
	t.Parallel()
	const base = "on >pw ~vc:* &* +@all -@dangerous -@admin"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off", "user app " + base, "user nopfadd " + base + " -pfadd",
		"user noevalsha " + base + " -evalsha", "user noscript " + base + " -script",
		"user nozincrby " + base + " -zincrby", "user otherkeys on >pw ~other:* &* +@all -@dangerous -@admin",
	}})
	for _, tc := range []struct{ user, want string }{
		{"app", ""}, {"nopfadd", "pfadd"}, {"noevalsha", "evalsha"}, {"noscript", "script"},
		{"nozincrby", "zincrby"}, {"otherkeys", "no permissions to access"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			cc, err := core.New(core.Config{URL: "redis://" + tc.user + ":pw@" + srv.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cc.Close() })
			ctx := context.Background()
			for _, mode := range []viewcount.Mode{viewcount.Direct, viewcount.Buffered} {
				c := newCounter(t, cc.Redis(), "vc", viewcount.Options{Mode: mode, FlushInterval: time.Hour})
				err := c.Check(ctx)
				if tc.want != "" {
					if err == nil || !strings.HasPrefix(err.Error(), "viewcount: check: ") || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
						t.Fatalf("%v Check as %s: got %v, want a \"viewcount: check: \" error naming %s", mode, tc.user, err, tc.want)
					}
					continue
				}
				item := fmt.Sprint("acl-", mode)
				err = errors.Join(err, c.Record(ctx, item, "v"), c.RecordBot(ctx, item), c.Flush(ctx))
				s, serr := c.Counts(ctx, item, 2)
				_, terr := c.Top(ctx, 3, time.Hour)
				if err = errors.Join(err, serr, terr); err != nil || s.Total != 1 || s.Bots != 1 {
					t.Fatalf("%v as app: got %+v, %v, want 1 view and 1 bot, no error", mode, s, err)
				}
			}
		})
	}
	t.Cleanup(func() {
		left, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).Keys(context.Background(), "vc:*check*").Result()
		if len(left) != 0 {
			t.Errorf("probe keys left by Check: got %q, want none", left)
		}
	})
}
