package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestGeneration: a missing generation is created from the server clock,
// read back unchanged, incremented by BumpGeneration, and a lost key comes
// back higher than every number used before, also seen from another client.
func TestGeneration(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		other := core.NewFromRedis(redistest.NewClient(t, tc.Target))
		srvNow, err := tc.RDB.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			setup func(key string) // prepares key; nothing when nil
			op    func(key string) (int64, error)
			check func(got int64) bool
			want  string
		}{
			{"missing key created from the server clock", nil,
				func(key string) (int64, error) { return c.Generation(ctx, key) },
				func(got int64) bool { d := got - srvNow.UnixMilli(); return d >= 0 && d < time.Minute.Milliseconds() },
				"the server's Unix milliseconds"},
			{"existing key read unchanged", func(key string) { must(t, tc.RDB.Set(ctx, key, 7, 0).Err()) },
				func(key string) (int64, error) { return other.Generation(ctx, key) },
				func(got int64) bool { return got == 7 }, "7"},
			{"bump increments", func(key string) { must(t, tc.RDB.Set(ctx, key, 7, 0).Err()) },
				func(key string) (int64, error) { return c.BumpGeneration(ctx, key) },
				func(got int64) bool { return got == 8 }, "8"},
			{"bump of a missing key starts from the server clock", nil,
				func(key string) (int64, error) { return c.BumpGeneration(ctx, key) },
				func(got int64) bool { return got > srvNow.UnixMilli() }, "above the server's Unix milliseconds"},
		}
		for i, tt := range tests {
			key := core.MakeKey(tc.Prefix, "gen", string(rune('a'+i)))
			if tt.setup != nil {
				tt.setup(key)
			}
			got, err := tt.op(key)
			if err != nil || !tt.check(got) {
				t.Errorf("%s: got %d, %v, want %s, nil", tt.name, got, err, tt.want)
			}
			if stored, err := tc.RDB.Get(ctx, key).Int64(); err != nil || stored != got {
				t.Errorf("%s: stored %d, %v, want %d", tt.name, stored, err, got)
			}
		}

		// Lost after bumps: the next number, from either client, is higher.
		key := core.MakeKey(tc.Prefix, "gen", "lost")
		g, err := c.Generation(ctx, key)
		must(t, err)
		for range 3 {
			g, err = c.BumpGeneration(ctx, key)
			must(t, err)
		}
		// The contract holds for fewer bumps than milliseconds since the
		// key was created: wait (polling the server clock) until that is so.
		for deadline := time.Now().Add(time.Second); ; {
			now, err := tc.RDB.Time(ctx).Result()
			must(t, err)
			if now.UnixMilli() > g {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server clock %d still not past generation %d after 1s", now.UnixMilli(), g)
			}
		}
		must(t, tc.RDB.Del(ctx, key).Err())
		for name, cl := range map[string]*core.Client{"same client": c, "other client": other} {
			if got, err := cl.Generation(ctx, key); err != nil || got <= g {
				t.Errorf("Generation after a lost key (%s): got %d, %v, want above %d", name, got, err, g)
			}
		}
	})
}

// TestGenerationErrors: a non-integer value, an empty key and a nil
// context are errors with the core prefix and the matching sentinel.
func TestGenerationErrors(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		bad := core.MakeKey(tc.Prefix, "gen", "text")
		must(t, tc.RDB.Set(ctx, bad, "not a number", 0).Err())
		var nilCtx context.Context
		tests := []struct {
			name string
			err  error
			want error // nil: any "core: " error
		}{
			{"Generation of text", errOf(c.Generation(ctx, bad)), core.ErrDecode},
			{"BumpGeneration of text", errOf(c.BumpGeneration(ctx, bad)), nil},
			{"Generation of empty key", errOf(c.Generation(ctx, "")), core.ErrInvalidKey},
			{"BumpGeneration of empty key", errOf(c.BumpGeneration(ctx, "")), core.ErrInvalidKey},
			{"Generation with nil ctx", errOf(c.Generation(nilCtx, bad)), core.ErrNilContext},
			{"CheckGeneration with nil ctx", c.CheckGeneration(nilCtx, bad), core.ErrNilContext},
		}
		for _, tt := range tests {
			if tt.err == nil || tt.err.Error()[:6] != "core: " || (tt.want != nil && !errors.Is(tt.err, tt.want)) {
				t.Errorf("%s: got %v, want a \"core: \" error matching %v", tt.name, tt.err, tt.want)
			}
		}
		probe := core.MakeKey(tc.Prefix, "gen", "{probe}")
		if err := c.CheckGeneration(ctx, probe); err != nil {
			t.Errorf("CheckGeneration: got %v, want nil", err)
		}
		if ttl, err := tc.RDB.PTTL(ctx, probe).Result(); err != nil || ttl <= 0 {
			t.Errorf("CheckGeneration probe TTL: got %v, %v, want a TTL", ttl, err)
		}
	})
}

func errOf(_ int64, err error) error { return err }
