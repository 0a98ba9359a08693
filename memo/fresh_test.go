package memo_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// clock is a test clock for Options.Now: the real time plus an offset that
// advance moves forward, so entries expire without sleeping.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestEarlyRefresh(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		beta      float64
		wantLoads int64 // after the hits, while the refresh (if any) is blocked
	}{
		{"xfetch on", 1e9, 2}, // with a huge beta every hit wants to refresh: only one may
		{"xfetch off", -1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				src := &source{delay: 5 * time.Millisecond, gate: make(chan struct{}), gateFrom: 2}
				opts := memo.Options{TTL: 10 * time.Second, Beta: c.beta}
				// Two processes, so that "once" holds across them too.
				a := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, opts)
				b := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, src.fn, opts)
				ctx := context.Background()
				loaded := time.Now()
				if v, err := a.Get(ctx, "k"); v != "k#1" || err != nil {
					t.Fatalf("cold Get: got (%q, %v), want (\"k#1\", nil)", v, err)
				}
				var n atomic.Int64
				vals, errs := hammer(200, func() (string, error) {
					if n.Add(1)%2 == 0 {
						return a.Get(ctx, "k")
					}
					return b.Get(ctx, "k")
				})
				checkAll(t, vals, errs, "k#1") // the fresh value is served meanwhile
				if c.wantLoads == 2 {
					redistest.Eventually(t, 2*time.Second, "refresh started", func() bool { return src.calls.Load() >= 2 })
				}
				if got := src.calls.Load(); got != c.wantLoads {
					t.Fatalf("fn calls: got %d, want %d", got, c.wantLoads)
				}
				if got := a.Stats().EarlyRefreshes + b.Stats().EarlyRefreshes; got != c.wantLoads-1 {
					t.Fatalf("early refreshes: got %d, want %d", got, c.wantLoads-1)
				}
				close(src.gate)
				if c.wantLoads == 1 {
					return
				}
				redistest.Eventually(t, 2*time.Second, "refreshed value served", func() bool {
					v, _ := a.Get(ctx, "k")
					return v == "k#2"
				})
				if since := time.Since(loaded); since >= opts.TTL*9/10 {
					t.Fatalf("refresh seen after %v, want before expiry (TTL %v)", since, opts.TTL)
				}
			})
		})
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{gate: make(chan struct{}), gateFrom: 2}
		var clk clock
		ttl := time.Minute
		f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, memo.Options{
			TTL: ttl, Jitter: -1, Beta: -1, StaleWhileRevalidate: time.Minute, Now: clk.now,
		})
		ctx := context.Background()
		if v, err := f.Get(ctx, "k"); v != "k#1" || err != nil {
			t.Fatalf("cold Get: got (%q, %v), want (\"k#1\", nil)", v, err)
		}
		clk.advance(ttl + time.Second) // the entry goes stale
		vals, errs := hammer(100, func() (string, error) { return f.Get(ctx, "k") })
		checkAll(t, vals, errs, "k#1")
		redistest.Eventually(t, 2*time.Second, "background refresh started", func() bool { return src.calls.Load() >= 2 })
		st := f.Stats()
		if st.StaleServed != 100 || st.StaleRefreshes != 1 || src.calls.Load() != 2 {
			t.Fatalf("got stale served %d, refreshes %d, fn calls %d; want 100, 1, 2",
				st.StaleServed, st.StaleRefreshes, src.calls.Load())
		}
		close(src.gate)
		redistest.Eventually(t, 2*time.Second, "refreshed value served", func() bool {
			v, _ := f.Get(ctx, "k")
			return v == "k#2"
		})
	})
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	errDown := errors.New("origin down")
	cases := []struct {
		name      string
		window    time.Duration
		wantValue string
		wantErr   error
	}{
		{"window on", time.Minute, "k#1", nil},
		{"window off", 0, "", errDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				src := &source{err: func(n int64) error {
					if n > 1 {
						return errDown
					}
					return nil
				}}
				var reported atomic.Int64
				var clk clock
				ttl := time.Minute
				f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, memo.Options{
					TTL: ttl, Jitter: -1, Beta: -1, StaleIfError: c.window, Now: clk.now,
					OnError: func(_ context.Context, err error) {
						if errors.Is(err, errDown) {
							reported.Add(1)
						}
					},
				})
				ctx := context.Background()
				if _, err := f.Get(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				clk.advance(ttl + time.Second) // the entry expires
				v, err := f.Get(ctx, "k")
				if v != c.wantValue || !errors.Is(err, c.wantErr) {
					t.Fatalf("Get after expiry with failing fn: got (%q, %v), want (%q, %v)", v, err, c.wantValue, c.wantErr)
				}
				if got := src.calls.Load(); got != 2 {
					t.Fatalf("fn calls: got %d, want 2", got)
				}
				if c.window > 0 && (f.Stats().StaleServed != 1 || reported.Load() != 1) {
					t.Fatalf("stale served %d, errors reported %d; want 1, 1", f.Stats().StaleServed, reported.Load())
				}
			})
		})
	}
}
