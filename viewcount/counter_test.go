package viewcount_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// forEachMode runs f in subtests per target (redistest.ForEach) and, below
// each, per Mode, with a namespace ns unique to the subtest.
func forEachMode(t *testing.T, f func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string)) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		for _, mode := range []viewcount.Mode{viewcount.Direct, viewcount.Buffered} {
			t.Run(mode.String(), func(t *testing.T) { f(t, tc, mode, tc.Prefix+":"+mode.String()) })
		}
	})
}

// finish makes a Counter's views visible: a no-op in Direct mode.
func finish(t *testing.T, c *viewcount.Counter) {
	t.Helper()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestReloadsInsideWindowCountOnce(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, ns, viewcount.Options{Mode: mode, FlushInterval: time.Hour})
		for i := range 50 {
			if err := c.Record(ctx, "post-1", "alice"); err != nil {
				t.Fatalf("Record %d: %v", i, err)
			}
			if i == 20 {
				finish(t, c) // reloads across flushes are caught by Redis
			}
		}
		if err := c.Record(ctx, "post-1", "bob"); err != nil {
			t.Fatal(err)
		}
		finish(t, c)
		s := counts(t, c, "post-1", 1)
		if s.Total != 2 || s.Unique != 2 || s.Today != 2 {
			t.Fatalf("got total %d unique %d today %d, want 2 2 2", s.Total, s.Unique, s.Today)
		}
	})
}

func TestDedupDisabledCountsEveryView(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, ns, viewcount.Options{Mode: mode, DedupWindow: -1, FlushInterval: time.Hour})
		for range 30 {
			if err := c.Record(ctx, "p", "alice"); err != nil {
				t.Fatal(err)
			}
		}
		finish(t, c)
		if s := counts(t, c, "p", 1); s.Total != 30 || s.Unique != 1 {
			t.Fatalf("got total %d unique %d, want 30 1", s.Total, s.Unique)
		}
	})
}

func TestUniqueWithinTwoPercent(t *testing.T) {
	t.Parallel()
	const visitors = 100_000
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		// Buffered: the visitors reach Redis as PFADDs of 500 inside a few scripts.
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{Mode: viewcount.Buffered, FlushInterval: time.Hour})
		for i := range visitors {
			if err := c.Record(ctx, "home", fmt.Sprintf("visitor-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		finish(t, c)
		s := counts(t, c, "home", 1)
		if s.Total != visitors {
			t.Fatalf("got total %d, want %d", s.Total, visitors)
		}
		if dev := math.Abs(float64(s.Unique-visitors)) / visitors; dev > 0.02 {
			t.Fatalf("got unique %d, want %d ±2%% (off by %.2f%%)", s.Unique, visitors, 100*dev)
		}
	})
}

func TestDirectRecordIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		top := &roundTrips{}
		tc.RDB.AddHook(top)
		nodes := hookNodes(tc.RDB)
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{})
		if err := c.Record(ctx, "warm", "up"); err != nil { // loads the scripts
			t.Fatal(err)
		}
		for i := range 20 {
			item, visitor := fmt.Sprintf("item-%d", i%7), fmt.Sprintf("v-%d", i)
			before, nodesBefore := top.trips.Load(), nodes.snapshot()
			if err := c.Record(ctx, item, visitor); err != nil {
				t.Fatal(err)
			}
			if got := top.trips.Load() - before; got != 1 {
				t.Fatalf("Record %d: got %d client round trips, want 1", i, got)
			}
			touched := 0
			for addr, n := range nodes.snapshot() {
				switch d := n - nodesBefore[addr]; {
				case d > 1:
					t.Fatalf("Record %d: node %s got %d round trips, want at most 1", i, addr, d)
				case d == 1:
					touched++
				}
			}
			if want := map[bool]int{false: 1, true: 2}[tc.Target.Cluster]; touched < 1 || touched > want {
				t.Fatalf("Record %d: got %d nodes, want 1..%d", i, touched, want)
			}
		}
	})
}

func TestBots(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, ns, viewcount.Options{Mode: mode, FlushInterval: time.Hour})
		for range 4 {
			if err := c.RecordBot(ctx, "p"); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Record(ctx, "p", "human"); err != nil {
			t.Fatal(err)
		}
		finish(t, c)
		if s := counts(t, c, "p", 1); s.Bots != 4 || s.Total != 1 || s.Unique != 1 {
			t.Fatalf("got bots %d total %d unique %d, want 4 1 1", s.Bots, s.Total, s.Unique)
		}
	})
}

func TestBotClassifier(t *testing.T) {
	t.Parallel()
	custom := viewcount.NewBotClassifier([]string{"MyMonitor", " "})
	isBot := viewcount.NewBotClassifier(viewcount.DefaultBotPatterns) // the Tracker's default
	for _, tt := range []struct {
		ua          string
		def, custom bool
	}{
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true, false},
		{"Mozilla/5.0 (compatible; bingbot/2.0)", true, false},
		{"facebookexternalhit/1.1", true, false},
		{"curl/8.5.0", true, false},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", false, false},
		{"mymonitor/1.0", false, true},
		{"", false, false},
	} {
		if got := isBot(tt.ua); got != tt.def {
			t.Errorf("IsBot(%q): got %v, want %v", tt.ua, got, tt.def)
		}
		if got := custom(tt.ua); got != tt.custom {
			t.Errorf("custom(%q): got %v, want %v", tt.ua, got, tt.custom)
		}
	}
}

func TestTopOrderingAndPeriodExpiry(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string) {
		ctx := context.Background()
		clock := newClock(time.Date(2025, 3, 10, 10, 15, 0, 0, time.UTC))
		c := newCounter(t, tc.RDB, ns, viewcount.Options{Mode: mode, FlushInterval: time.Hour,
			Periods: []time.Duration{time.Hour, 24 * time.Hour}, Now: clock.Now})
		views := map[string]int{"a": 5, "b": 3, "c": 8, "d": 1}
		for item, n := range views {
			for v := range n {
				if err := c.Record(ctx, item, fmt.Sprint("v", v)); err != nil {
					t.Fatal(err)
				}
			}
		}
		finish(t, c)
		wantTop := []viewcount.Ranked{{Item: "c", Views: 8}, {Item: "a", Views: 5}, {Item: "b", Views: 3}}
		for _, p := range []time.Duration{time.Hour, 24 * time.Hour} {
			got, err := c.Top(ctx, 3, p)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(wantTop) {
				t.Fatalf("Top(3, %v): got %v, %v, want %v", p, got, err, wantTop)
			}
		}
		// The hour bucket expires one period after it ends.
		hourKey := core.MakeKey(ns, "{top}", "3600", fmt.Sprint(clock.Now().Unix()/3600))
		if ttl := tc.RDB.TTL(ctx, hourKey).Val(); ttl <= 0 || ttl > 2*time.Hour {
			t.Fatalf("TTL of %s: got %v, want in (0, 2h]", hourKey, ttl)
		}
		clock.Advance(time.Hour)
		if err := c.Record(ctx, "d", "late"); err != nil {
			t.Fatal(err)
		}
		finish(t, c)
		if got, err := c.Top(ctx, 3, time.Hour); err != nil || fmt.Sprint(got) != "[{d 1}]" {
			t.Fatalf("Top(3, 1h) an hour later: got %v, %v, want [{d 1}]", got, err)
		}
		if got, _ := c.Top(ctx, 1, 24*time.Hour); fmt.Sprint(got) != "[{c 8}]" {
			t.Fatalf("Top(1, 24h): got %v, want [{c 8}]", got)
		}
		if _, err := c.Top(ctx, 3, time.Minute); !errors.Is(err, viewcount.ErrUnknownPeriod) {
			t.Fatalf("Top(1m): got %v, want ErrUnknownPeriod", err)
		}
	})
}

func TestStatsDaySeries(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		clock := newClock(time.Date(2025, 3, 10, 23, 0, 0, 0, time.UTC))
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{Now: clock.Now, DedupWindow: -1})
		for day, n := range []int{2, 0, 3} {
			for range n {
				if err := c.Record(ctx, "p", "v"); err != nil {
					t.Fatal(err)
				}
			}
			if day < 2 {
				clock.Advance(24 * time.Hour)
			}
		}
		s := counts(t, c, "p", 4)
		want := "[{2025-03-09 0} {2025-03-10 2} {2025-03-11 0} {2025-03-12 3}]"
		if fmt.Sprint(s.Days) != want || s.Today != 3 || s.Total != 5 {
			t.Fatalf("got days %v today %d total %d, want %s 3 5", s.Days, s.Today, s.Total, want)
		}
		dayKey := fmt.Sprintf("%s:{p}:day:2025-03-10", tc.Prefix)
		if ttl := tc.RDB.TTL(ctx, dayKey).Val(); ttl <= 89*24*time.Hour || ttl > 90*24*time.Hour {
			t.Fatalf("TTL of %s: got %v, want about 90 days", dayKey, ttl)
		}
	})
}

// A Redis error on one read of Stats (here WRONGTYPE on the HyperLogLog) is
// returned, not turned into a zero, even when other keys are missing.
func TestStatsReturnsPerCommandErrors(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{})
		if err := tc.RDB.Set(ctx, tc.Prefix+":{p}:uniq", "not a hyperloglog", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if s, err := c.Counts(ctx, "p", 1); err == nil || errors.Is(err, redis.Nil) {
			t.Fatalf("Stats with a wrong-type uniq key: got (%+v, %v), want a WRONGTYPE error", s, err)
		}
	})
}

// Item ids are user input: braces, globs and colons cannot reach another
// item's keys or slot.
func TestHostileItemIDs(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{DedupWindow: -1})
		items := []string{"a", "a}", "{a}", "*", "a:total", "a}:total", "~YQ", "é", "x y", "[ab]"}
		for i, item := range items {
			for range i + 1 {
				if err := c.Record(ctx, item, "v"); err != nil {
					t.Fatalf("Record(%q): %v", item, err)
				}
			}
		}
		for i, item := range items {
			if s := counts(t, c, item, 1); s.Total != int64(i+1) {
				t.Fatalf("Stats(%q).Total: got %d, want %d", item, s.Total, i+1)
			}
		}
		keys, err := core.NewFromRedis(tc.RDB).FindKeys(ctx, tc.Prefix+":*", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			rest := strings.TrimPrefix(k, tc.Prefix+":")
			if strings.ContainsAny(rest, "*[] ") || strings.Count(rest, "{") != 1 || strings.Count(rest, "}") != 1 {
				t.Errorf("key %q: want exactly one hash tag and no glob characters after the namespace", k)
			}
		}
		if len(keys) < len(items) {
			t.Fatalf("got %d keys, want at least %d", len(keys), len(items))
		}
	})
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	ctx := context.Background()
	c := newCounter(t, rdb, redistest.Prefix(t), viewcount.Options{})
	for _, tt := range []struct {
		item, visitor string
		want          error
	}{
		{"", "v", viewcount.ErrInvalidItem},
		{strings.Repeat("x", viewcount.MaxItemBytes+1), "v", viewcount.ErrInvalidItem},
		{"\xff", "v", viewcount.ErrInvalidItem},
		{"p", "", viewcount.ErrInvalidVisitor},
		{"p", strings.Repeat("v", viewcount.MaxVisitorBytes+1), viewcount.ErrInvalidVisitor},
	} {
		if err := c.Record(ctx, tt.item, tt.visitor); !errors.Is(err, tt.want) {
			t.Errorf("Record(%.10q, %.10q): got %v, want %v", tt.item, tt.visitor, err, tt.want)
		}
	}
	if _, err := c.Counts(ctx, "p", 91); err == nil {
		t.Errorf("Stats(91 days): got nil error, want one (retention is 90 days)")
	}
	if _, err := c.Top(ctx, 0, time.Hour); !errors.Is(err, viewcount.ErrInvalidOptions) {
		t.Errorf("Top(0): got %v, want ErrInvalidOptions", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	cc := core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	ok := viewcount.Options{Secret: testSecret}
	for name, tt := range map[string]func(o *viewcount.Options){
		"no secret":       func(o *viewcount.Options) { o.Secret = nil },
		"short secret":    func(o *viewcount.Options) { o.Secret = []byte("short") },
		"brace namespace": func(o *viewcount.Options) { o.Namespace = "a{b}" },
		"glob namespace":  func(o *viewcount.Options) { o.Namespace = "a*" },
		"bad mode":        func(o *viewcount.Options) { o.Mode = 7 },
		"tiny window":     func(o *viewcount.Options) { o.DedupWindow = time.Microsecond },
		"short retention": func(o *viewcount.Options) { o.Retention = time.Hour },
		"sub-second":      func(o *viewcount.Options) { o.Periods = []time.Duration{1500 * time.Millisecond} },
		"twice":           func(o *viewcount.Options) { o.Periods = []time.Duration{time.Hour, time.Hour} },
		"negative buffer": func(o *viewcount.Options) { o.MaxPending = -1 },
		"short marker":    func(o *viewcount.Options) { o.MarkerTTL = time.Millisecond },
	} {
		o := ok
		tt(&o)
		if _, err := viewcount.New(cc, o); !errors.Is(err, viewcount.ErrInvalidOptions) {
			t.Errorf("%s: got %v, want ErrInvalidOptions", name, err)
		}
	}
	if _, err := viewcount.New(nil, ok); !errors.Is(err, viewcount.ErrInvalidOptions) {
		t.Errorf("nil client: got %v, want ErrInvalidOptions", err)
	}
	c, err := viewcount.New(cc, ok)
	if err != nil {
		t.Fatalf("valid options: %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Record(context.Background(), "p", "v"); !errors.Is(err, viewcount.ErrClosed) {
		t.Errorf("Record after Close: got %v, want ErrClosed", err)
	}
}
