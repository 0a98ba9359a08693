package httpcache_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// Cache.Check and every feature (store, Vary, hit, tags, Purge, PurgeTag,
// PurgeAll) under a least-privilege ACL user; a missing permission is named
// at start-up.
func TestACLUserAndCheck(t *testing.T) {
	t.Parallel()
	const base = "on >pw ~hc:* &* +@all -@dangerous -@admin"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off", "user app " + base, "user nozadd " + base + " -zadd", "user nohdel " + base + " -hdel",
		"user noevalsha " + base + " -evalsha", "user nohset " + base + " -hset",
		"user nopexpire " + base + " -pexpire", "user otherkeys on >pw ~other:* &* +@all -@dangerous -@admin",
	}})
	for _, tc := range []struct{ user, want string }{
		{"app", ""}, {"nozadd", "zadd"}, {"nohdel", "hdel"}, {"noevalsha", "evalsha"}, {"nohset", "hset"},
		{"nopexpire", "pexpire"}, {"otherkeys", "no permissions to access"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			cc, err := core.New(core.Config{URL: "redis://" + tc.user + ":pw@" + srv.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cc.Close() })
			ctx := context.Background()
			c := newCache(t, cc.Redis(), "hc", httpcache.Options{}, nil)
			err = c.Check(ctx)
			if tc.want != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "httpcache: check: ") || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
					t.Fatalf("Check as %s: got %v, want a \"httpcache: check: \" error naming %s", tc.user, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check as app: %v", err)
			}
			o := &origin{clk: newClock()}
			o.set(resp{hdr: []string{ok60, "Vary: Accept", "Cache-Tag: t1"}, body: "v"})
			h := cached(c, o)
			for _, path := range []string{"/a", "/b", "/c"} {
				do(h, "GET", "http://example.com"+path)
				if w := do(h, "GET", "http://example.com"+path); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
					t.Fatalf("%s as app: got Cache-Status %q, want a hit", path, w.Header().Get("Cache-Status"))
				}
			}
			purged, err1 := c.Purge(ctx, "http://example.com/a")
			n, err2 := c.PurgeTag(ctx, "t1")
			if err := errors.Join(err1, err2, c.PurgeAll(ctx)); err != nil || !purged || n != 2 {
				t.Fatalf("purges as app: got %v, %d, %v, want true, 2, nil", purged, n, err)
			}
			if c.Stats().Errors != 0 {
				t.Fatalf("errors as app: got %d, want 0", c.Stats().Errors)
			}
		})
	}
	t.Cleanup(func() {
		left, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).Keys(context.Background(), "hc:check:*").Result()
		if len(left) != 0 {
			t.Errorf("probe keys left by Check: got %q, want none", left)
		}
	})
}

// URL paths, queries and tags are user input: braces cannot pick a slot,
// glob characters are plain bytes, and a purge removes exactly its target.
func TestHostileURLsStayApart(t *testing.T) {
	t.Parallel()
	paths := []string{"/a", "/a*", "/ab", "/[a]b", "/a?x=*", "/%7Bvictim%7D", "/{victim}", "/x}{victim", "/%2A", "/q?x={victim}&y=}"}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, nil)
		o := &origin{clk: newClock()}
		h := cached(c, o)
		for _, p := range paths {
			o.set(resp{hdr: []string{ok60, "Cache-Tag: " + map[bool]string{true: "*", false: "plain"}[p == "/a*"]}, body: p})
			do(h, "GET", "http://example.com"+p)
		}
		hit := func(p string) bool {
			return strings.Contains(do(h, "GET", "http://example.com"+p).Header().Get("Cache-Status"), "hit")
		}
		for _, p := range paths {
			if !hit(p) {
				t.Fatalf("%s: not stored", p)
			}
		}
		if ok, err := c.Purge(ctx, "http://example.com/a*"); !ok || err != nil {
			t.Fatalf("Purge(/a*): got %v, %v, want true, nil", ok, err)
		}
		if n, err := c.PurgeTag(ctx, "*"); n != 0 || err != nil {
			t.Fatalf("PurgeTag(*) after /a* went: got %d, %v, want 0 (no other entry has tag *)", n, err)
		}
		for _, p := range paths {
			if want := p != "/a*"; hit(p) != want {
				t.Fatalf("%s after purging /a*: hit %v, want %v", p, !want, want)
			}
		}
		keys, err := core.NewFromRedis(tc.RDB).FindKeys(ctx, tc.Prefix+":*", 1000)
		if err != nil {
			t.Fatal(err)
		}
		hashed := 0
		for _, k := range keys {
			if strings.Contains(k, ":{#") {
				hashed++
			}
			open, shut := strings.Index(k, "{"), strings.LastIndex(k, "}")
			if k != tc.Prefix+":gen" && !strings.Contains(k, ":tag:") && (strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 || shut < open) {
				t.Errorf("key %q: want exactly one hash tag", k)
			}
		}
		if hashed != 1 { // paths arrive escaped (%7B); the raw query's braces force a hash
			t.Errorf("hashed entry keys: got %d, want 1 (for the query holding braces)", hashed)
		}
	})
}

// A 1 MiB URL through the middleware: answered, stored under a short hashed
// key, and served from the cache next time.
func TestHugeURL(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	c := newCache(t, rdb, prefix, httpcache.Options{}, nil)
	o := &origin{clk: newClock()}
	o.set(resp{hdr: []string{ok60}, body: "big"})
	h := cached(c, o)
	target := "http://example.com/" + strings.Repeat("a{*}", 1<<17) + "?q=" + strings.Repeat("%7B", 1<<17)
	for i, want := range []string{"miss", "hit"} {
		w := do(h, "GET", target)
		if w.Code != 200 || w.Body.String() != "big" || !strings.Contains(w.Header().Get("Cache-Status"), want) {
			t.Fatalf("request %d: got %d %q, Cache-Status %q, want 200 big and %s", i, w.Code, w.Body.String(), w.Header().Get("Cache-Status"), want)
		}
	}
	keys, err := core.NewFromRedis(rdb).FindKeys(context.Background(), prefix+":g*:*", 10)
	if err != nil || len(keys) != 1 || len(keys[0]) > len(prefix)+len(genOf(t, rdb, prefix))+80 {
		t.Fatalf("stored keys: got %d (%v), first %d bytes, want one short hashed key", len(keys), err, len(keys[0]))
	}
}

// A 10,000-deep JSON value: written over an entry key it is a corrupt entry
// (a miss, no panic); sent by the handler it is stored and replayed byte
// for byte.
func TestDeepJSON(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60, "Content-Type: application/json"}, body: "fine"})
		h := cached(c, o)
		err := tc.RDB.Set(ctx, tc.Prefix+":gen", 7, 0).Err() // a namespace at generation 7
		if err := errors.Join(err, tc.RDB.Set(ctx, tc.Prefix+":g7:{http://example.com/p}", deep, 0).Err()); err != nil {
			t.Fatal(err)
		}
		if w := do(h, "GET", "http://example.com/p"); w.Code != 200 || w.Body.String() != "fine" || o.Calls() != 1 {
			t.Fatalf("deep JSON over an entry: got %d %q after %d calls, want the handler's answer", w.Code, w.Body.String(), o.Calls())
		}
		o.set(resp{hdr: []string{ok60, "Content-Type: application/json"}, body: deep})
		for i := range 2 {
			w := do(h, "GET", "http://example.com/deep")
			if w.Code != 200 || w.Body.String() != deep {
				t.Fatalf("deep JSON body, request %d: got %d and %d bytes, want 200 and the body", i, w.Code, w.Body.Len())
			}
		}
		if o.Calls() != 2 {
			t.Fatalf("handler calls: got %d, want 2 (the deep body served from the cache)", o.Calls())
		}
	})
}
