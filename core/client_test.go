package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestSetGet(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		tests := []struct {
			name  string
			value any
			dst   func() any
			want  any
		}{
			{"string", "noah", func() any { return new(string) }, "noah"},
			{"struct", user{"Noah", 21}, func() any { return new(user) }, user{"Noah", 21}},
			{"int", 21, func() any { return new(int) }, 21},
			{"float", 2.5, func() any { return new(float64) }, 2.5},
			{"bool", true, func() any { return new(bool) }, true},
			{"bytes", []byte{0, 0xff}, func() any { return new([]byte) }, []byte{0, 0xff}},
			{"map", map[string]string{"theme": "dark"}, func() any { return new(map[string]string) }, map[string]string{"theme": "dark"}},
		}
		for _, tt := range tests {
			key := core.MakeKey(tc.Prefix, tt.name)
			if err := c.Set(ctx, key, tt.value, 0); err != nil {
				t.Fatalf("%s: Set: %v", tt.name, err)
			}
			dst := tt.dst()
			found, err := c.Get(ctx, key, dst)
			if err != nil || !found {
				t.Fatalf("%s: Get: got found=%v err=%v, want true, nil", tt.name, found, err)
			}
			if got := deref(dst); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}
		var s string
		found, err := c.Get(ctx, core.MakeKey(tc.Prefix, "missing"), &s)
		if found || err != nil || s != "" {
			t.Errorf("missing key: got found=%v err=%v s=%q, want false, nil, untouched", found, err, s)
		}
	})
}

func deref(p any) any {
	switch v := p.(type) {
	case *string:
		return *v
	case *user:
		return *v
	case *int:
		return *v
	case *float64:
		return *v
	case *bool:
		return *v
	case *[]byte:
		return *v
	case *map[string]string:
		return *v
	}
	return p
}

func TestGenericReads(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		key := core.MakeKey(tc.Prefix, "user")
		if err := c.Set(ctx, key, user{"Noah", 21}, time.Minute); err != nil {
			t.Fatal(err)
		}
		u, found, err := core.GetAs[user](ctx, c, key)
		if err != nil || !found || u.Name != "Noah" {
			t.Errorf("GetAs: got %+v, %v, %v, want Noah, true, nil", u, found, err)
		}
		name, err := core.GetOr(ctx, c, core.MakeKey(tc.Prefix, "missing"), "Unknown")
		if err != nil || name != "Unknown" {
			t.Errorf("GetOr missing: got %q, %v, want Unknown, nil", name, err)
		}
		if err := c.Set(ctx, key, "not json", 0); err != nil {
			t.Fatal(err)
		}
		_, err = core.GetOr(ctx, c, key, user{Name: "default"})
		var de *core.DecodeError
		if !errors.As(err, &de) || de.Key != key {
			t.Errorf("GetOr undecodable: got %v, want a DecodeError naming %q", err, key)
		}
	})
}

func TestDeleteExistsTTL(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		persistent, expiring, missing := core.MakeKey(tc.Prefix, "p"), core.MakeKey(tc.Prefix, "e"), core.MakeKey(tc.Prefix, "m")
		must(t, c.Set(ctx, persistent, "v", 0))
		must(t, c.Set(ctx, expiring, "v", 90*time.Second))

		tests := []struct {
			key     string
			wantTTL time.Duration
			wantErr error
		}{
			{persistent, core.NoExpiration, nil},
			{missing, 0, core.ErrNotFound},
		}
		for _, tt := range tests {
			got, err := c.TTL(ctx, tt.key)
			if got != tt.wantTTL || !errors.Is(err, tt.wantErr) {
				t.Errorf("TTL(%s): got %v, %v, want %v, %v", tt.key, got, err, tt.wantTTL, tt.wantErr)
			}
		}
		if got, err := c.TTL(ctx, expiring); err != nil || got <= 80*time.Second || got > 90*time.Second {
			t.Errorf("TTL(expiring): got %v, %v, want in (80s, 90s]", got, err)
		}
		if ok, err := c.Exists(ctx, persistent); !ok || err != nil {
			t.Errorf("Exists: got %v, %v, want true, nil", ok, err)
		}
		if n, err := c.Delete(ctx, persistent); n != 1 || err != nil {
			t.Errorf("Delete: got %d, %v, want 1, nil", n, err)
		}
		if n, err := c.Delete(ctx, persistent); n != 0 || err != nil {
			t.Errorf("Delete again: got %d, %v, want 0, nil", n, err)
		}
		if ok, err := c.Exists(ctx, persistent); ok || err != nil {
			t.Errorf("Exists after delete: got %v, %v, want false, nil", ok, err)
		}
	})
}

func TestCacheHelpers(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		key := core.MakeKey(tc.Prefix, "cache", "user", "123", "profile")
		must(t, c.CacheSet(ctx, key, user{"Noah", 21}))
		if ttl, err := c.TTL(ctx, key); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("CacheSet TTL: got %v, %v, want about 1h", ttl, err)
		}
		var u user
		if found, err := c.CacheGet(ctx, key, &u); !found || err != nil || u.Age != 21 {
			t.Errorf("CacheGet: got %v, %v, %+v", found, err, u)
		}
		short := c.WithCacheTTL(30 * time.Minute)
		must(t, short.CacheSet(ctx, key, u))
		if ttl, _ := c.TTL(ctx, key); ttl > 30*time.Minute || ttl < 29*time.Minute {
			t.Errorf("WithCacheTTL: got %v, want about 30m", ttl)
		}
		must(t, c.CacheSetTTL(ctx, key, u, 1800*time.Second))
		if err := c.CacheSetTTL(ctx, key, u, 0); !errors.Is(err, core.ErrInvalidTTL) {
			t.Errorf("CacheSetTTL(0): got %v, want ErrInvalidTTL", err)
		}
	})
}

func TestBulk(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		values := make(map[string]any)
		var keys []string
		for i := range 2500 { // more than one MGET chunk, spread over every slot range
			k := core.MakeKey(tc.Prefix, "user", fmt.Sprint(i))
			values[k] = user{Name: fmt.Sprint("u", i), Age: i}
			keys = append(keys, k)
		}
		must(t, c.SetMany(ctx, values, time.Hour))
		missing := core.MakeKey(tc.Prefix, "user", "missing")
		got, err := core.GetManyAs[user](ctx, c, append(keys, missing))
		if err != nil {
			t.Fatalf("GetManyAs: %v", err)
		}
		if len(got) != len(keys) {
			t.Fatalf("GetManyAs: got %d keys, want %d (missing excluded)", len(got), len(keys))
		}
		for i, k := range keys {
			if got[k].Age != i {
				t.Fatalf("GetManyAs[%s]: got %+v, want age %d", k, got[k], i)
			}
		}
		// An undecodable value fails the whole call, naming its key.
		garbled := core.MakeKey(tc.Prefix, "user", "garbled")
		must(t, c.Set(ctx, garbled, "not json", time.Hour))
		var de *core.DecodeError
		if got, err := core.GetManyAs[user](ctx, c, append(keys[:3:3], garbled)); !errors.As(err, &de) || de.Key != garbled || got != nil {
			t.Errorf("GetManyAs with a garbled value: got %d keys, %v, want nil and a DecodeError naming %q", len(got), err, garbled)
		}
		if ttl, _ := c.TTL(ctx, keys[7]); ttl <= 0 {
			t.Errorf("SetMany TTL: got %v, want positive", ttl)
		}
		n, err := c.DeleteMany(ctx, append(keys, missing))
		if err != nil || n != int64(len(keys)) {
			t.Errorf("DeleteMany: got %d, %v, want %d, nil", n, err, len(keys))
		}
		raw, err := c.GetMany(ctx, keys[:10])
		if err != nil || len(raw) != 0 {
			t.Errorf("GetMany after delete: got %d keys, %v, want 0", len(raw), err)
		}
		// Bad input writes nothing.
		bad := map[string]any{core.MakeKey(tc.Prefix, "ok"): 1, core.MakeKey(tc.Prefix, "bad"): make(chan int)}
		if err := c.SetMany(ctx, bad, 0); !errors.Is(err, core.ErrEncode) {
			t.Errorf("SetMany with a channel: got %v, want ErrEncode", err)
		}
		if ok, _ := c.Exists(ctx, core.MakeKey(tc.Prefix, "ok")); ok {
			t.Error("SetMany with a bad value wrote the good one; want nothing written")
		}
	})
}

func TestCounters(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		key := core.MakeKey(tc.Prefix, "page", "home", "views")
		steps := []struct {
			op     string
			amount int64
			want   int64
		}{
			{"inc", 1, 1}, {"inc", 10, 11}, {"dec", 1, 10}, {"dec", 15, -5},
		}
		for _, s := range steps {
			var got int64
			var err error
			if s.op == "inc" {
				got, err = c.Increment(ctx, key, s.amount)
			} else {
				got, err = c.Decrement(ctx, key, s.amount)
			}
			if err != nil || got != s.want {
				t.Errorf("%s %d: got %d, %v, want %d", s.op, s.amount, got, err, s.want)
			}
		}
		n, err := core.GetOr(ctx, c, key, int64(0))
		if err != nil || n != -5 {
			t.Errorf("counter read back: got %d, %v, want -5", n, err)
		}
		text := core.MakeKey(tc.Prefix, "text")
		must(t, c.Set(ctx, text, "noah", 0))
		if _, err := c.Increment(ctx, text, 1); err == nil {
			t.Error("Increment of a string: got nil error, want one")
		}
	})
}

func TestIncrementWindow(t *testing.T) {
	for _, form := range []string{"multi", "script", "nx-refused"} {
		t.Run(form, func(t *testing.T) { testIncrementWindow(t, form) })
	}
}

// testIncrementWindow checks one form of IncrementWindow: "multi" (Redis
// 7+), "script" (forced Lua) or "nx-refused", a server that refuses
// PEXPIRE NX as those before Redis 7 do, which must be detected once and
// change nothing.
func testIncrementWindow(t *testing.T, form string) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		var refuse *refuseNX
		switch form {
		case "script":
			core.UseScriptWindow(c)
		case "nx-refused":
			refuse = &refuseNX{}
			rdb := redistest.NewClient(t, tc.Target)
			rdb.AddHook(refuse)
			c = core.NewFromRedis(rdb)
		}
		key := core.MakeKey(tc.Prefix, "rl")
		wc, err := c.IncrementWindow(ctx, key, 1, time.Minute)
		if err != nil || wc.Count != 1 || wc.TTL <= 59*time.Second || wc.TTL > time.Minute {
			t.Fatalf("first: got %+v, %v, want count 1, ttl about 1m", wc, err)
		}
		must(t, tc.RDB.PExpire(ctx, key, 30*time.Second).Err())
		wc, err = c.IncrementWindow(ctx, key, 2, time.Minute)
		if err != nil || wc.Count != 3 || wc.TTL > 30*time.Second {
			t.Fatalf("second: got %+v, %v, want count 3 and the first window's TTL kept", wc, err)
		}
		// A counter someone left without a TTL (the Python INCR-then-SET bug)
		// is repaired on the next increment.
		stuck := core.MakeKey(tc.Prefix, "stuck")
		must(t, tc.RDB.Set(ctx, stuck, 41, 0).Err())
		wc, err = c.IncrementWindow(ctx, stuck, 1, time.Minute)
		if err != nil || wc.Count != 42 || wc.TTL <= 0 {
			t.Fatalf("stuck counter: got %+v, %v, want 42 with a TTL", wc, err)
		}
		if _, err := c.IncrementWindow(ctx, key, 1, 0); !errors.Is(err, core.ErrInvalidTTL) {
			t.Errorf("zero window: got %v, want ErrInvalidTTL", err)
		}
		if refuse != nil {
			if got := refuse.refused.Load(); got != 1 {
				t.Errorf("transactions with PEXPIRE NX sent: got %d, want 1 (then the script)", got)
			}
		}
	})
}

// refuseNX makes a Redis 7 server refuse PEXPIRE … NX inside a transaction
// as servers before Redis 7 do: there PEXPIRE takes exactly two arguments,
// so queueing it with NX fails ("wrong number of arguments") and EXEC
// aborts. It sends the command as GETSET, whose arity is exactly that.
type refuseNX struct{ refused atomic.Int32 }

func (*refuseNX) DialHook(next redis.DialHook) redis.DialHook { return next }

func (*refuseNX) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *refuseNX) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if args := cmd.Args(); cmd.Name() == "pexpire" && len(args) == 4 && args[3] == "nx" {
				args[0] = "getset"
				h.refused.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// TestBadInput checks that every kind of bad input is a clear, typed error.
func TestBadInput(t *testing.T) {
	rdb := redistest.Standalone(t)
	c := core.NewFromRedis(rdb)
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	long := string(make([]byte, core.MaxKeyBytes+1))
	var nilCtx context.Context
	var s string
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"empty key", func() error { return c.Set(ctx, "", "v", 0) }, core.ErrInvalidKey},
		{"empty service", func() error { return c.Set(ctx, core.MakeKey("", "user", "1"), "v", 0) }, core.ErrInvalidKey},
		{"oversized key", func() error { _, err := c.Get(ctx, long, &s); return err }, core.ErrInvalidKey},
		{"negative ttl", func() error { return c.Set(ctx, prefix+":k", "v", -time.Second) }, core.ErrInvalidTTL},
		{"channel", func() error { return c.Set(ctx, prefix+":k", make(chan int), 0) }, core.ErrEncode},
		{"func", func() error { return c.Set(ctx, prefix+":k", func() {}, 0) }, core.ErrEncode},
		{"nil context", func() error { return c.Set(nilCtx, prefix+":k", "v", 0) }, core.ErrNilContext},
		{"nil destination", func() error { _, err := c.Get(ctx, prefix+":k", nil); return err }, core.ErrInvalidArgument},
		{"empty pattern", func() error { _, err := c.FindKeys(ctx, "", 10); return err }, core.ErrInvalidKey},
		{"zero limit", func() error { _, err := c.FindKeys(ctx, "x*", 0); return err }, core.ErrInvalidArgument},
		{"empty prefix", func() error { _, err := c.InvalidatePrefix(ctx, ""); return err }, core.ErrInvalidKey},
		{"empty key in bulk", func() error { _, err := c.GetMany(ctx, []string{"a", ""}); return err }, core.ErrInvalidKey},
		{"cancelled context", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			return c.Set(cctx, prefix+":k", "v", 0)
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	cfgClient, err := core.New(core.Config{URL: "redis://" + redistest.StandaloneTarget(t).Addrs[0], MaxValueBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cfgClient.Close()
	if err := cfgClient.Set(ctx, prefix+":big", "01234567890", 0); !errors.Is(err, core.ErrValueTooLarge) {
		t.Errorf("oversized value: got %v, want ErrValueTooLarge", err)
	}
	must(t, cfgClient.Close())
	if err := cfgClient.Set(ctx, prefix+":k", "v", 0); !errors.Is(err, core.ErrClosed) {
		t.Errorf("closed client: got %v, want ErrClosed", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDerivedClientClose(t *testing.T) {
	target := redistest.StandaloneTarget(t)
	parent, err := core.New(core.Config{URL: "redis://" + target.Addrs[0]})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	derived := parent.WithCacheTTL(time.Minute)
	must(t, derived.Close())
	if err := parent.Ping(ctx); err != nil {
		t.Errorf("parent after closing a derived client: got %v, want nil", err)
	}
	must(t, parent.Close())
	if err := derived.Ping(ctx); !errors.Is(err, core.ErrClosed) {
		t.Errorf("derived after closing the parent: got %v, want ErrClosed", err)
	}
}
