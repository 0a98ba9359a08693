package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// TestForgetDuringLoad is the write path of a service: PUT (the source
// changes), Forget, GET. A load that read the old value and is still
// running when Forget returns must neither answer a later Get nor store its
// stale value over the new one.
func TestForgetDuringLoad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		lease       bool
		otherForget bool // Forget and the later Get run in the other process
	}{
		{"same process", false, false},
		{"same process with lease", true, false},
		{"other process", false, true},
		{"other process with lease", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				var version, calls atomic.Int64
				version.Store(1)
				gate := make(chan struct{})
				fn := func(ctx context.Context, k string) (string, error) {
					v := version.Load() // the source as the load reads it
					if calls.Add(1) == 1 {
						select { // the first load blocks until released
						case <-gate:
						case <-ctx.Done():
							return "", ctx.Err()
						}
					}
					return fmt.Sprintf("%s@v%d", k, v), nil
				}
				opts := memo.Options{Lease: c.lease, Beta: -1}
				a := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, fn, opts)
				b := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, fn, opts)
				ctx := context.Background()
				first := make(chan string, 1)
				go func() { v, _ := a.Get(ctx, "k"); first <- v }()
				redistest.Eventually(t, time.Second, "first load running", func() bool { return calls.Load() == 1 })

				version.Store(2) // PUT
				other := a
				if c.otherForget {
					other = b
				}
				must(t, other.Forget(ctx, "k"))
				second := make(chan string, 1)
				go func() { v, _ := other.Get(ctx, "k"); second <- v }()
				if !c.lease { // nothing to wait for: the new value at once
					if v := <-second; v != "k@v2" {
						t.Fatalf("Get after Forget, stale load running: got %q, want \"k@v2\"", v)
					}
				}
				close(gate) // the stale load finishes and tries to store
				if v := <-first; v != "k@v1" {
					t.Fatalf("Get that started before the PUT: got %q, want \"k@v1\"", v)
				}
				if c.lease {
					if v := <-second; v != "k@v2" {
						t.Fatalf("Get after Forget, stale load running: got %q, want \"k@v2\"", v)
					}
				}
				for _, f := range []*memo.Func[string, string]{a, b} {
					if v, err := f.Get(ctx, "k"); v != "k@v2" || err != nil {
						t.Fatalf("Get once both loads ended: got (%q, %v), want (\"k@v2\", nil)", v, err)
					}
				}
				if got := calls.Load(); got != 2 {
					t.Fatalf("fn calls: got %d, want 2", got)
				}
				if got := a.Stats().Discarded; got != 1 {
					t.Fatalf("discarded stale results: got %d, want 1", got)
				}
			})
		})
	}
}

// TestGenerationKeyLostOrCorrupt: a generation key lost after ForgetAll
// never brings forgotten entries back, in the process that forgot or in
// another one; a generation that is not a number is reported as corrupt
// and Get fails open.
func TestGenerationKeyLostOrCorrupt(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		var version atomic.Int64
		fn := func(_ context.Context, k string) (string, error) {
			return fmt.Sprintf("%s@v%d", k, version.Load()), nil
		}
		opts := memo.Options{Beta: -1, GenerationRefresh: time.Nanosecond}
		a := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, fn, opts)
		b := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, fn, opts)
		genKey := core.MakeKey(tc.Prefix, "users", "gen")
		for _, f := range []*memo.Func[string, string]{a, b} {
			if v, err := f.Get(ctx, "k"); v != "k@v0" || err != nil {
				t.Fatalf("first Get: got %q, %v, want \"k@v0\"", v, err)
			}
		}
		must(t, a.ForgetAll(ctx))
		gen, err := tc.RDB.Get(ctx, genKey).Int64()
		must(t, err)
		// A lost key comes back higher once fewer bumps than milliseconds
		// passed since its creation (internal/generation.Read): poll the
		// server clock until then.
		redistest.Eventually(t, time.Second, "server clock past the generation", func() bool {
			now, err := tc.RDB.Time(ctx).Result()
			return err == nil && now.UnixMilli() > gen
		})
		must(t, tc.RDB.Del(ctx, genKey).Err())
		version.Store(1)
		for name, f := range map[string]*memo.Func[string, string]{"forgetting": a, "other": b} {
			redistest.Eventually(t, time.Second, name+" process to read the recreated generation", func() bool {
				v, err := f.Get(ctx, "k")
				must(t, err)
				return v == "k@v1"
			})
		}

		must(t, tc.RDB.Set(ctx, genKey, "not a number", 0).Err())
		var corrupt atomic.Bool
		opts.OnError = func(_ context.Context, err error) { corrupt.Store(corrupt.Load() || errors.Is(err, memo.ErrCorrupt)) }
		c := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, fn, opts) // reads it first
		if v, err := c.Get(ctx, "k"); v != "k@v1" || err != nil {
			t.Errorf("Get with a corrupt generation: got %q, %v, want \"k@v1\" (fail open)", v, err)
		}
		if !corrupt.Load() || c.Stats().CorruptEntries != 1 {
			t.Errorf("corrupt generation: reported ErrCorrupt %v, counted %d, want true, 1", corrupt.Load(), c.Stats().CorruptEntries)
		}
	})
}

// TestForgetWithStaleGeneration: Forget in a process that has not yet seen
// another process's ForgetAll (within GenerationRefresh) still makes its
// own next Get load the new value: PUT, Forget, GET.
func TestForgetWithStaleGeneration(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		var version atomic.Int64
		fn := func(_ context.Context, k string) (string, error) {
			return fmt.Sprintf("%s@v%d", k, version.Load()), nil
		}
		opts := memo.Options{Beta: -1, GenerationRefresh: time.Hour}
		a := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, fn, opts)
		b := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, fn, opts)
		if v, err := a.Get(ctx, "k"); v != "k@v0" || err != nil {
			t.Fatalf("first Get: got %q, %v, want \"k@v0\"", v, err)
		}
		must(t, b.ForgetAll(ctx)) // a keeps its generation for an hour
		version.Store(1)          // PUT
		must(t, a.Forget(ctx, "k"))
		for name, f := range map[string]*memo.Func[string, string]{"forgetting": a, "other": b} {
			if v, err := f.Get(ctx, "k"); v != "k@v1" || err != nil {
				t.Errorf("Get in the %s process after Forget: got %q, %v, want \"k@v1\"", name, v, err)
			}
		}
	})
}
