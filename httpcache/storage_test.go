package httpcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// A hot URL whose Vary header takes ever new values keeps at most
// MaxVariants variants in its hash; the newest is always kept.
func TestVariantsBounded(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60, "Vary: X-V"}, body: "v"})
		h := cached(c, o)
		for i := range httpcache.MaxVariants + 6 {
			v := fmt.Sprintf("X-V: %d", i)
			if cs := do(h, "GET", "http://example.com/v", v).Header().Get("Cache-Status"); !strings.Contains(cs, "stored") {
				t.Fatalf("variant %d: got %q, want stored", i, cs)
			}
			if cs := do(h, "GET", "http://example.com/v", v).Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
				t.Fatalf("variant %d just stored: got %q, want a hit", i, cs)
			}
		}
		key := tc.Prefix + ":g" + genOf(t, tc.RDB, tc.Prefix) + ":{http://example.com/v}"
		n, err := tc.RDB.HLen(context.Background(), key).Result()
		if err != nil || n > httpcache.MaxVariants+1 {
			t.Errorf("fields of %s: got %d, %v, want at most %d variants and the vary field", key, n, err, httpcache.MaxVariants)
		}
	})
}

// A tag set holds only live entries: an expired entry's key is dropped when
// another entry is added to the tag, and the set lives as long as its
// longest-lived entry.
func TestTagSetDropsExpiredEntries(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		if tc.Target.Embedded {
			// The embedded fallback expires keys in 10 ms clock steps, so a
			// key may vanish a few ms before the server TIME the script
			// compares with reaches its expiry: a real server is needed.
			t.Skip("needs a real redis-server: compares key expiry with the server clock to the millisecond")
		}
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{Storage: httpcache.StorageOptions{StaleRetention: -1,
			Rules: []httpcache.Rule{{Prefix: "/short/", TTL: 50 * time.Millisecond}, {Prefix: "/", TTL: time.Minute}}}}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{"Cache-Tag: t"}, body: "v"})
		h := cached(c, o)
		ctx := context.Background()
		for _, p := range []string{"/long/1", "/short/1", "/short/2"} { // /long/1 keeps the tag alive
			do(h, "GET", "http://example.com"+p)
		}
		g := genOf(t, tc.RDB, tc.Prefix)
		key := func(path string) string { return tc.Prefix + ":g" + g + ":{http://example.com" + path + "}" }
		tagKey := tc.Prefix + ":g" + g + ":tag:t"
		poll(t, "the short entries to expire", func() bool {
			n1, err1 := tc.RDB.Exists(ctx, key("/short/1")).Result()
			n2, err2 := tc.RDB.Exists(ctx, key("/short/2")).Result()
			return err1 == nil && err2 == nil && n1+n2 == 0
		})
		do(h, "GET", "http://example.com/long/2")
		members, err := tc.RDB.ZRange(ctx, tagKey, 0, -1).Result()
		if want := []string{key("/long/1"), key("/long/2")}; err != nil || strings.Join(members, " ") != strings.Join(want, " ") {
			t.Errorf("tag members after an expiry: got %q, %v, want %q", members, err, want)
		}
		if ttl, err := tc.RDB.PTTL(ctx, tagKey).Result(); err != nil || ttl < 50*time.Second || ttl > time.Minute {
			t.Errorf("tag TTL: got %v, %v, want the long entry's (about 1m)", ttl, err)
		}
		if n, err := c.PurgeTag(ctx, "t"); err != nil || n != 2 {
			t.Errorf("PurgeTag: got %d, %v, want 2, nil", n, err)
		}
	})
}

// Errors name entries by a hash, never by URL: a query string may hold a
// token, and errors reach OnError and logs.
func TestErrorsHideURLs(t *testing.T) {
	t.Parallel()
	target := redistest.StandaloneTarget(t)
	for _, fail := range []string{"get", "set", "evalsha"} {
		t.Run(fail, func(t *testing.T) {
			t.Parallel()
			boom := errors.New("boom")
			rdb := hookedClient(t, target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
				if cmd.Name() == fail && !strings.HasSuffix(cmdKey(cmd), ":gen") {
					cmd.SetErr(boom)
					return boom
				}
				return next(ctx, cmd)
			})
			var mu sync.Mutex
			var errs []error
			c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{OnError: func(_ context.Context, err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}}, nil)
			o := &origin{clk: newClock()}
			o.set(resp{hdr: []string{ok60, "Cache-Tag: t"}, body: "v"})
			do(cached(c, o), "GET", "http://example.com/a?token=s3cret")
			mu.Lock()
			defer mu.Unlock()
			if len(errs) == 0 {
				t.Fatalf("failing %s: got no error reported, want one", fail)
			}
			for _, err := range errs {
				if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, " entry ") || !errors.Is(err, boom) {
					t.Errorf("failing %s: got error %q, want one naming the entry by hash, without the URL, wrapping boom", fail, msg)
				}
			}
		})
	}
}

// An entry stored under a tag while PurgeTag runs (after its scan of the
// tag set) keeps its tag membership: a later PurgeTag removes it.
func TestPurgeTagKeepsEntriesTaggedMeanwhile(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60, "Cache-Tag: t"}, body: "v"})
		h2 := cached(newCache(t, redistest.NewClient(t, tc.Target), tc.Prefix, httpcache.Options{}, nil), o)
		var armed atomic.Bool
		rdb := hookedClient(t, tc.Target, func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
			err := next(ctx, cmd)
			if cmd.Name() == "zscan" && strings.HasSuffix(fmt.Sprint(cmd.Args()[1]), ":tag:t") && armed.CompareAndSwap(true, false) {
				do(h2, "GET", "http://example.com/meanwhile") // another instance stores under the tag
			}
			return err
		})
		c := newCache(t, rdb, tc.Prefix, httpcache.Options{}, nil)
		h := cached(c, o)
		do(h, "GET", "http://example.com/before")
		armed.Store(true)
		if n, err := c.PurgeTag(ctx, "t"); err != nil || n != 1 {
			t.Fatalf("PurgeTag racing a store: got %d, %v, want 1, nil", n, err)
		}
		if armed.Load() {
			t.Fatal("PurgeTag did not scan the tag set")
		}
		if n, err := c.PurgeTag(ctx, "t"); err != nil || n != 1 {
			t.Errorf("PurgeTag after it: got %d, %v, want 1 (the entry stored meanwhile), nil", n, err)
		}
		if w := do(h2, "GET", "http://example.com/meanwhile", "Cache-Control: only-if-cached"); w.Code == 200 {
			t.Errorf("entry stored during the first PurgeTag: got %d (still cached) after the second, want gone", w.Code)
		}
		if n, err := tc.RDB.Exists(ctx, tc.Prefix+":g"+genOf(t, tc.RDB, tc.Prefix)+":tag:t").Result(); err != nil || n != 0 {
			t.Errorf("emptied tag set: got %d, %v, want deleted", n, err)
		}
	})
}

// Purge names a URL it refuses by a hash, never by its text: a query string
// may hold a token.
func TestPurgeErrorHidesURL(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{}, nil)
	for _, raw := range []string{"/a?token=s3cret", "example.com/a?token=s3cret", "?token=s3cret"} {
		ok, err := c.Purge(context.Background(), raw)
		if ok || err == nil || strings.Contains(err.Error(), "s3cret") || !strings.HasPrefix(err.Error(), "httpcache: purge ") {
			t.Errorf("Purge(%q): got %v, %v, want false and an \"httpcache: purge …\" error without the URL", raw, ok, err)
		}
	}
}

// A hit from Redis decodes the stored header fields straight into the
// response: every stored field and value arrives, whether the values fit
// the decoded entry's room or not, and the tag header stays hidden.
func TestHitHeaderFields(t *testing.T) {
	cases := []struct {
		name  string
		extra int // X-F fields, two values each
	}{
		{"stored fields only", 0},
		{"a few more", 1},
		{"more values than the entry's room", 6},
	}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, nil)
		for i, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				hdr := []string{ok60, "Cache-Tag: secret", "Content-Type: text/plain"}
				for j := range tt.extra {
					hdr = append(hdr, fmt.Sprintf("X-F%d: a%d", j, j), fmt.Sprintf("X-F%d: b%d", j, j))
				}
				o := &origin{clk: newClock()}
				o.set(resp{hdr: hdr, body: "v"})
				h := cached(c, o)
				url := fmt.Sprintf("http://example.com/fields/%d", i)
				first := do(h, "GET", url)
				hit := do(h, "GET", url)
				if cs := hit.Header().Get("Cache-Status"); !strings.Contains(cs, "hit") || o.Calls() != 1 {
					t.Fatalf("second request: got %q after %d handler calls, want a hit after 1", cs, o.Calls())
				}
				if d := hit.Header()["Date"]; len(d) != 1 {
					t.Errorf("Date on the hit: got %q, want the one stored", d)
				}
				for _, name := range []string{"Cache-Control", "Content-Type"} {
					if got, want := hit.Header()[name], first.Header()[name]; len(want) == 0 || !slices.Equal(got, want) {
						t.Errorf("%s on the hit: got %q, want %q", name, got, want)
					}
				}
				for j := range tt.extra {
					name := fmt.Sprintf("X-F%d", j)
					if got, want := hit.Header()[name], []string{fmt.Sprintf("a%d", j), fmt.Sprintf("b%d", j)}; !slices.Equal(got, want) {
						t.Errorf("%s on the hit: got %q, want %q", name, got, want)
					}
				}
				if v, ok := hit.Header()["Cache-Tag"]; ok {
					t.Errorf("Cache-Tag on the hit: got %q, want it hidden", v)
				}
			})
		}
	})
}
