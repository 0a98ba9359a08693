package core_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestGlobInjection checks that user-supplied ids cannot widen an
// invalidation: with keys a*b, aXb and a[x]b present, invalidating the
// literal id "a*b" removes only a*b, and so on for every metacharacter.
func TestGlobInjection(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		ids := []string{"a*b", "aXb", "a[x]b", "axb", `a\b`, "a?b", "a", "ab"}
		tests := []struct {
			id      string
			wantDel []string
		}{
			{"a*b", []string{"a*b"}},
			{"a?b", []string{"a?b"}},
			{"a[x]b", []string{"a[x]b"}},
			{`a\b`, []string{`a\b`}},
			{"*", nil},
			{"aXb", []string{"aXb"}},
		}
		for _, tt := range tests {
			base := core.MakeKey(tc.Prefix, "inj", tt.id)
			for _, id := range ids {
				must(t, c.Set(ctx, core.MakeKey(base, id), 1, 0))
				must(t, c.Set(ctx, core.MakeKey(base, id, "child"), 1, 0))
			}
			// Delete the literal key and its children: prefix "<base>:<id>:" plus the key itself.
			target := core.MakeKey(base, tt.id)
			n, err := c.InvalidatePattern(ctx, core.EscapeGlob(target))
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.InvalidatePrefix(ctx, target+":")
			if err != nil {
				t.Fatal(err)
			}
			wantN := int64(len(tt.wantDel))
			if n != wantN || m != wantN {
				t.Errorf("id %q: deleted %d keys and %d children, want %d and %d", tt.id, n, m, wantN, wantN)
			}
			left, err := c.FindKeys(ctx, core.EscapeGlob(base)+":*", 100)
			if err != nil {
				t.Fatal(err)
			}
			if want := 2*len(ids) - 2*len(tt.wantDel); len(left) != want {
				t.Errorf("id %q: %d keys left, want %d: %q", tt.id, len(left), want, left)
			}
		}
	})
}

func TestFindKeys(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		values := map[string]any{}
		for i := range 3000 {
			values[core.MakeKey(tc.Prefix, "cache", "user", fmt.Sprint(i))] = i
		}
		for i := range 50 {
			values[core.MakeKey(tc.Prefix, "session", fmt.Sprint(i))] = i
		}
		must(t, c.SetMany(ctx, values, 0))
		base := core.EscapeGlob(tc.Prefix)
		tests := []struct {
			pattern string
			limit   int
			want    int
		}{
			{base + ":cache:user:*", 1000, 1000},
			{base + ":cache:user:*", 5000, 3000},
			{base + ":session:*", 1000, 50},
			{base + ":session:?", 1000, 10},
			{base + ":session:[12]", 1000, 2},
			{base + ":nothing:*", 10, 0},
			{base + ":cache:user:*", 1, 1},
		}
		for _, tt := range tests {
			got, err := c.FindKeys(ctx, tt.pattern, tt.limit)
			if err != nil || len(got) != tt.want {
				t.Errorf("FindKeys(%q, %d): got %d keys, %v, want %d", tt.pattern, tt.limit, len(got), err, tt.want)
			}
			slices.Sort(got)
			if len(slices.Compact(got)) != len(got) {
				t.Errorf("FindKeys(%q): duplicates in result", tt.pattern)
			}
		}
	})
}

func TestInvalidateAndPurge(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		// Services are namespaced under the test prefix so parallel tests
		// never see each other's keys; "*:cache:*" is exercised on a
		// service-shaped prefix below.
		svc := func(name string) string { return core.MakeKey(tc.Prefix, name) }
		values := map[string]any{}
		for i := range 5000 {
			values[core.MakeKey(svc("firstapi"), "cache", "user", fmt.Sprint(i))] = i
		}
		for i := range 100 {
			values[core.MakeKey(svc("auth"), "cache", "token", fmt.Sprint(i))] = i
			values[core.MakeKey(svc("auth"), "session", fmt.Sprint(i))] = i
		}
		must(t, c.SetMany(ctx, values, 0))

		n, err := c.PurgeCache(ctx, svc("firstapi"))
		if err != nil || n != 5000 {
			t.Errorf("PurgeCache(firstapi): got %d, %v, want 5000", n, err)
		}
		n, err = c.InvalidatePattern(ctx, core.EscapeGlob(tc.Prefix)+":*:cache:*")
		if err != nil || n != 100 {
			t.Errorf("InvalidatePattern(all services' cache): got %d, %v, want 100", n, err)
		}
		left, err := c.FindKeys(ctx, core.EscapeGlob(tc.Prefix)+":*", 1000)
		if err != nil || len(left) != 100 {
			t.Errorf("after purges: got %d keys, %v, want the 100 sessions", len(left), err)
		}
		n, err = c.InvalidatePrefix(ctx, svc("auth")+":session:")
		if err != nil || n != 100 {
			t.Errorf("InvalidatePrefix(sessions): got %d, %v, want 100", n, err)
		}
	})
}

// TestPurgeAllServices runs PurgeCache("") on a dedicated server, since it
// matches every service's cache keys.
func TestPurgeAllServices(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	ctx := context.Background()
	c := core.NewFromRedis(srv.Client(t, nil))
	must(t, c.SetMany(ctx, map[string]any{
		"firstapi:cache:user:1": 1, "auth:cache:token:1": 1, "auth:session:1": 1, "cache:plain": 1,
	}, 0))
	n, err := c.PurgeCache(ctx, "")
	if err != nil || n != 2 {
		t.Errorf("PurgeCache(\"\"): got %d, %v, want 2", n, err)
	}
	for _, k := range []string{"auth:session:1", "cache:plain"} {
		if ok, _ := c.Exists(ctx, k); !ok {
			t.Errorf("%s was purged; want it kept", k)
		}
	}
}

// TestSlotMatchesServer checks Slot against CLUSTER KEYSLOT for many keys.
func TestSlotMatchesServer(t *testing.T) {
	rdb := redistest.Cluster(t).(*redis.ClusterClient)
	ctx := context.Background()
	for i := range 200 {
		key := fmt.Sprintf("key:%d:{tag%d}:x", i*7919, i%13)
		if i%3 == 0 {
			key = fmt.Sprintf("plain-%d", i)
		}
		want, err := rdb.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := core.Slot(key); int64(got) != want {
			t.Errorf("Slot(%q): got %d, want %d", key, got, want)
		}
	}
}
