package generation_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/internal/script"
)

// TestReadBump: a missing generation is created from the server clock,
// read back unchanged, incremented by Bump, and a lost key comes back
// higher than every number used before, also seen from another client.
func TestReadBump(t *testing.T) {
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
				func(key string) (int64, error) { return generation.Read(ctx, c, key) },
				func(got int64) bool { d := got - srvNow.UnixMilli(); return d >= 0 && d < time.Minute.Milliseconds() },
				"the server's Unix milliseconds"},
			{"existing key read unchanged", func(key string) { must(t, tc.RDB.Set(ctx, key, 7, 0).Err()) },
				func(key string) (int64, error) { return generation.Read(ctx, other, key) },
				func(got int64) bool { return got == 7 }, "7"},
			{"bump increments", func(key string) { must(t, tc.RDB.Set(ctx, key, 7, 0).Err()) },
				func(key string) (int64, error) { return generation.Bump(ctx, c, key) },
				func(got int64) bool { return got == 8 }, "8"},
			{"bump of a missing key starts from the server clock", nil,
				func(key string) (int64, error) { return generation.Bump(ctx, c, key) },
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
			if ttl, err := tc.RDB.PTTL(ctx, key).Result(); err != nil || ttl != -1 {
				t.Errorf("%s: TTL %v, %v, want none", tt.name, ttl, err)
			}
		}

		// Lost after bumps: the next number, from either client, is higher.
		key := core.MakeKey(tc.Prefix, "gen", "lost")
		g, err := generation.Read(ctx, c, key)
		must(t, err)
		for range 3 {
			g, err = generation.Bump(ctx, c, key)
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
			if got, err := generation.Read(ctx, cl, key); err != nil || got <= g {
				t.Errorf("Read after a lost key (%s): got %d, %v, want above %d", name, got, err, g)
			}
		}
	})
}

// TestConcurrentCreationAgrees: processes creating a missing generation at
// the same time all get the one number stored.
func TestConcurrentCreationAgrees(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		key := core.MakeKey(tc.Prefix, "gen", "race")
		const n = 8
		clients := make([]*core.Client, n)
		for i := range clients {
			clients[i] = core.NewFromRedis(redistest.NewClient(t, tc.Target))
		}
		got := make([]int64, n)
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				got[i], errs[i] = generation.Read(ctx, clients[i], key)
			}()
		}
		start.Done()
		wg.Wait()
		stored, err := tc.RDB.Get(ctx, key).Int64()
		must(t, err)
		for i := range n {
			if errs[i] != nil || got[i] != stored {
				t.Errorf("Read %d of %d concurrent: got %d, %v, want the stored %d", i, n, got[i], errs[i], stored)
			}
		}
	})
}

// TestReadBumpErrors: a non-integer value, an invalid key, a nil context
// and a closed client are errors with the package prefix and the matching
// core sentinel.
func TestReadBumpErrors(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		bad := core.MakeKey(tc.Prefix, "gen", "text")
		must(t, tc.RDB.Set(ctx, bad, "not a number", 0).Err())
		long := strings.Repeat("k", core.MaxKeyBytes+1)
		var nilCtx context.Context
		tests := []struct {
			name   string
			err    error
			prefix string
			want   error // nil: any error with prefix
		}{
			{"Read of text", errOf(generation.Read(ctx, c, bad)), "generation: read ", core.ErrDecode},
			{"Bump of text", errOf(generation.Bump(ctx, c, bad)), "generation: bump ", nil},
			{"Read of empty key", errOf(generation.Read(ctx, c, "")), "generation: read", core.ErrInvalidKey},
			{"Bump of empty key", errOf(generation.Bump(ctx, c, "")), "generation: bump", core.ErrInvalidKey},
			{"Read of key without service", errOf(generation.Read(ctx, c, ":x")), "generation: read", core.ErrInvalidKey},
			{"Bump of oversized key", errOf(generation.Bump(ctx, c, long)), "generation: bump", core.ErrInvalidKey},
			{"Read with nil ctx", errOf(generation.Read(nilCtx, c, bad)), "generation: read", core.ErrNilContext},
			{"Bump with nil ctx", errOf(generation.Bump(nilCtx, c, bad)), "generation: bump", core.ErrNilContext},
		}
		for _, tt := range tests {
			if tt.err == nil || !strings.HasPrefix(tt.err.Error(), tt.prefix) || (tt.want != nil && !errors.Is(tt.err, tt.want)) {
				t.Errorf("%s: got %v, want a %q error matching %v", tt.name, tt.err, tt.prefix, tt.want)
			}
		}
		var de *core.DecodeError
		if _, err := generation.Read(ctx, c, bad); !errors.As(err, &de) || de.Key != bad || de.Target != "int64" {
			t.Errorf("Read of text: got %v, want a *core.DecodeError of %q into int64", err, bad)
		}
		if s, err := tc.RDB.Get(ctx, bad).Result(); err != nil || s != "not a number" {
			t.Errorf("text after Read and Bump: got %q, %v, want it unchanged", s, err)
		}
	})
}

// TestClosedClient: Read and Bump on a closed Client match core.ErrClosed.
func TestClosedClient(t *testing.T) {
	target := redistest.StandaloneTarget(t)
	c, err := core.New(core.Config{URL: "redis://" + target.Addrs[0]})
	if err != nil {
		t.Fatal(err)
	}
	must(t, c.Close())
	key := redistest.Prefix(t) + ":gen"
	for name, err := range map[string]error{
		"Read": errOf(generation.Read(context.Background(), c, key)),
		"Bump": errOf(generation.Bump(context.Background(), c, key)),
	} {
		if !errors.Is(err, core.ErrClosed) {
			t.Errorf("%s on a closed client: got %v, want core.ErrClosed", name, err)
		}
	}
}

// TestScripts: Scripts declare every command Read and Bump send, so a
// feature's script.Probe over them checks exactly those, leaves no probe
// key behind and loads both scripts.
func TestScripts(t *testing.T) {
	var cmds []string
	for _, s := range generation.Scripts {
		cmds = append(cmds, s.Commands()...)
	}
	slices.Sort(cmds)
	if got, want := slices.Compact(cmds), []string{"exists", "get", "incr", "set", "time"}; !slices.Equal(got, want) {
		t.Errorf("commands of Scripts: got %q, want %q", got, want)
	}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		if err := script.Probe(ctx, tc.RDB, tc.Prefix, generation.Scripts); err != nil {
			t.Fatalf("Probe of Scripts: got %v, want nil", err)
		}
		if left := keys(t, tc, tc.Prefix+":check:*"); len(left) != 0 {
			t.Errorf("probe keys after Probe: got %q, want none", left)
		}
		for _, s := range generation.Scripts {
			if ok, err := tc.RDB.ScriptExists(ctx, s.Hash()).Result(); err != nil || !ok[0] {
				t.Errorf("script %s loaded by Probe: got %v, %v, want true", s.Hash(), ok, err)
			}
		}
	})
}

// keys returns the keys matching pattern, on every master of a cluster.
func keys(t *testing.T, tc redistest.Case, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, rdb *redis.Client) error {
		ks, err := rdb.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := tc.RDB.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else {
		err = scan(ctx, tc.RDB.(*redis.Client))
	}
	must(t, err)
	return out
}

func errOf(_ int64, err error) error { return err }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
