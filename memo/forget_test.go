package memo_test

import (
	"context"
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
				poll(t, time.Second, "first load running", func() bool { return calls.Load() == 1 })

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
