package memo

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestLeaseOfCrashedHolder plants a lease no process will release, as a
// crashed holder would leave it, and checks that waiters load anyway: when
// the lease expires, or when LeaseWait runs out.
func TestLeaseOfCrashedHolder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		leaseLeft    time.Duration // PX of the planted lease
		leaseWait    time.Duration
		wantTimeouts int64
		maxTook      time.Duration
	}{
		{"lease expires", 100 * time.Millisecond, 10 * time.Second, 0, 2 * time.Second},
		{"wait runs out", time.Minute, 100 * time.Millisecond, 1, 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				var calls atomic.Int64
				fn := func(_ context.Context, k string) (string, error) { calls.Add(1); return k + "!", nil }
				f, err := Wrap(core.NewFromRedis(tc.RDB), "lease", fn,
					Options{Namespace: tc.Prefix, Lease: true, LeaseWait: c.leaseWait})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				gen, err := f.generation(ctx)
				if err != nil {
					t.Fatal(err)
				}
				lease := f.leaseKey(f.entryKey(gen, "k"))
				if err := tc.RDB.Set(ctx, lease, "crashed-holder", c.leaseLeft).Err(); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				v, err := f.Get(ctx, "k")
				took := time.Since(start)
				if v != "k!" || err != nil {
					t.Fatalf("Get: got (%q, %v), want (\"k!\", nil)", v, err)
				}
				if took > c.maxTook {
					t.Fatalf("Get took %v, want at most %v", took, c.maxTook)
				}
				st := f.Stats()
				if calls.Load() != 1 || st.LeaseWaits != 1 || st.LeaseTimeouts != c.wantTimeouts {
					t.Fatalf("got calls %d, lease waits %d, timeouts %d; want 1, 1, %d",
						calls.Load(), st.LeaseWaits, st.LeaseTimeouts, c.wantTimeouts)
				}
				if c.wantTimeouts == 0 { // our own lease was released after the load
					if n, _ := tc.RDB.Exists(ctx, lease).Result(); n != 0 {
						t.Fatalf("lease after load: got %d keys, want 0 (released)", n)
					}
				} else if got, _ := tc.RDB.Get(ctx, lease).Result(); got != "crashed-holder" {
					t.Fatalf("foreign lease: got %q, want it untouched", got)
				}
			})
		})
	}
}
