package call

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/budget"
)

func TestContextDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		budget  time.Duration // 0: none
		timeout time.Duration
		want    time.Duration // deadline about this far from now
	}{
		{"timeout alone", 0, 200 * time.Millisecond, 200 * time.Millisecond},
		{"budget shorter", 50 * time.Millisecond, time.Second, 50 * time.Millisecond},
		{"timeout shorter", time.Second, 80 * time.Millisecond, 80 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := budget.With(context.Background(), tt.budget)
			start := time.Now()
			cctx, cancel := Context(ctx, tt.timeout, nil)
			defer cancel()
			d, ok := cctx.Deadline()
			if got := d.Sub(start); !ok || got < tt.want-5*time.Millisecond || got > tt.want+20*time.Millisecond {
				t.Fatalf("got deadline in %v, want about %v", got, tt.want)
			}
		})
	}
}

// The budget counts only the time spent waiting on Redis: time between calls
// (the handler's) is not taken off, each call's wait is.
func TestContextSpendsWaitOnly(t *testing.T) {
	t.Parallel()
	ctx := budget.With(context.Background(), time.Second)
	b := budget.From(ctx)
	cctx, cancel := Context(ctx, time.Second, nil)
	<-time.After(20 * time.Millisecond) // the call "waits" 20 ms
	cancel()
	<-cctx.Done()
	afterCall := b.Left()
	if afterCall > 980*time.Millisecond || afterCall < 900*time.Millisecond {
		t.Fatalf("got %v left after a 20ms call, want about 980ms", afterCall)
	}
	<-time.After(30 * time.Millisecond) // handler time: not Redis wait
	if got := b.Left(); got != afterCall {
		t.Fatalf("got %v left after time outside calls, want %v unchanged", got, afterCall)
	}
	b.Spend(afterCall) // spent: the next call is done at once
	cctx, cancel = Context(ctx, time.Second, nil)
	defer cancel()
	if err := cctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v on a spent budget, want a context already past its deadline", err)
	}
	if free, cancel := Context(budget.Without(ctx), 50*time.Millisecond, nil); free.Err() != nil {
		t.Fatalf("got %v without the budget, want a live context", free.Err())
	} else {
		cancel()
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	block := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond)
		return 0, ctx.Err()
	}
	fast := func(context.Context) (int, error) { return 7, nil }
	tests := []struct {
		name    string
		direct  bool
		op      func(context.Context) (int, error)
		want    int
		wantErr error
	}{
		{"direct answer", true, fast, 7, nil},
		{"goroutine answer", false, fast, 7, nil},
		{"direct timeout", true, block, 0, context.DeadlineExceeded},
		{"goroutine timeout", false, block, 0, ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Do(context.Background(), 20*time.Millisecond, nil, tt.direct, tt.op)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("got (%d, %v), want (%d, %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !IsTimeout(err) {
				t.Fatalf("got IsTimeout(%v) false, want true", err)
			}
		})
	}
}

// A Wait gets each call's wait, with or without a budget, once per cancel;
// Observe(nil, …) is a nil Wait (nothing reported, nothing allocated).
func TestWait(t *testing.T) {
	t.Parallel()
	if Observe(nil, "memo") != nil {
		t.Fatal("got a Wait for a nil Observer, want nil")
	}
	tests := []struct {
		name   string
		budget time.Duration
	}{{"no budget", 0}, {"budget", time.Second}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &waitRecorder{}
			w := Observe(rec, "memo")
			_, err := Do(budget.With(context.Background(), tt.budget), time.Second, w, true, func(context.Context) (int, error) {
				<-time.After(5 * time.Millisecond)
				return 1, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.waits) != 1 || rec.feature != "memo" || rec.waits[0] < 5*time.Millisecond {
				t.Fatalf("got waits %v for %q, want one of at least 5ms for memo", rec.waits, rec.feature)
			}
		})
	}
}

type waitRecorder struct {
	feature string
	waits   []time.Duration
}

func (r *waitRecorder) RedisWait(_ context.Context, feature string, d time.Duration) {
	r.feature = feature
	r.waits = append(r.waits, d)
}

// Detached ends at the earliest of ctx's deadline, the timeout and the
// budget, never with ctx's cancellation; it keeps ctx's values; and Context
// gives the same for a ctx that cannot be cancelled.
func TestDetached(t *testing.T) {
	t.Parallel()
	type key struct{}
	tests := []struct {
		name    string
		parent  func() (context.Context, context.CancelFunc)
		timeout time.Duration
		want    time.Duration // deadline about this far from now
	}{
		{"timeout", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, 40 * time.Millisecond, 40 * time.Millisecond},
		{"parent deadline earlier", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, time.Second, 30 * time.Millisecond},
		{"budget shorter", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(budget.With(context.Background(), 35*time.Millisecond))
		}, time.Second, 35 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, cancelParent := tt.parent()
			parent = context.WithValue(parent, key{}, "v")
			start := time.Now()
			ctx, cancel := Detached(parent, start, tt.timeout, nil)
			defer cancel()
			d, ok := ctx.Deadline()
			if got := d.Sub(start); !ok || got < tt.want-5*time.Millisecond || got > tt.want+5*time.Millisecond {
				t.Fatalf("got deadline in %v, want about %v", got, tt.want)
			}
			if ctx.Value(key{}) != "v" {
				t.Fatalf("got value %v, want the parent's", ctx.Value(key{}))
			}
			cancelParent()
			if err := ctx.Err(); err != nil && time.Now().Before(d.Add(-tick)) {
				t.Fatalf("got %v after the parent's cancellation, before the deadline: want nil", err)
			}
			<-ctx.Done()
			if late := time.Since(d); late < -tick || late > 50*time.Millisecond {
				t.Fatalf("done %v after the deadline, want at most a tick before it (timers may be late on a loaded machine)", late)
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("got %v once done, want context.DeadlineExceeded", ctx.Err())
			}
		})
	}
	t.Run("Context on a ctx that cannot be cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := Context(context.WithoutCancel(context.Background()), 10*time.Millisecond, nil)
		defer cancel()
		if _, ok := ctx.(*Call); !ok {
			t.Fatalf("got %T, want a deadline-only context", ctx)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			t.Fatal("not done a second after a 10ms timeout")
		}
	})
	t.Run("budget shorter than a tick", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := Detached(budget.With(context.Background(), time.Nanosecond), time.Now(), time.Second, nil)
		defer cancel()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("got %v with 1ns of budget left, want a context already done (never past the bound)", ctx.Err())
		}
	})
	t.Run("spent budget", func(t *testing.T) {
		t.Parallel()
		spent := budget.With(context.Background(), time.Millisecond)
		budget.From(spent).Spend(time.Millisecond)
		ctx, cancel := Detached(spent, time.Now(), time.Second, nil)
		defer cancel()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("got %v on a spent budget, want a context already done", ctx.Err())
		}
	})
}

// Detached costs one allocation (the context) without budget or Wait: no
// timer, no cancel func. Concurrent calls share one done channel per tick.
func TestDetachedAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	if n := testing.AllocsPerRun(1000, func() {
		_, cancel := Detached(parent, time.Now(), time.Second, nil)
		cancel()
	}); n > 1 {
		t.Fatalf("got %v allocs per Detached, want at most 1", n)
	}
	// Start: one allocation with a budget and a Wait too (Detached's cancel
	// func costs a second one then).
	bctx := budget.With(parent, time.Hour)
	waited := 0
	w := Wait(func(context.Context, time.Duration) { waited++ })
	if n := testing.AllocsPerRun(1000, func() {
		Start(bctx, time.Now(), time.Second, w).End()
	}); n > 1 {
		t.Fatalf("got %v allocs per Start and End, want at most 1", n)
	}
	if waited == 0 || budget.From(bctx).Left() >= time.Hour {
		t.Fatalf("End: got %d waits reported, %v budget left; want them reported and spent", waited, budget.From(bctx).Left())
	}
	now := time.Now()
	a, _ := Detached(parent, now, time.Second, nil)
	b, _ := Detached(context.Background(), now, time.Second, nil)
	if a.Done() != b.Done() {
		t.Fatal("got two done channels for deadlines in one tick, want one")
	}
}
