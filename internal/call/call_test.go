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
			cctx, cancel := Context(ctx, tt.timeout)
			defer cancel()
			d, ok := cctx.Deadline()
			if got := d.Sub(start); !ok || got < tt.want-5*time.Millisecond || got > tt.want+20*time.Millisecond {
				t.Fatalf("got deadline in %v, want about %v", got, tt.want)
			}
		})
	}
}

func TestContextSpentBudget(t *testing.T) {
	t.Parallel()
	ctx := budget.With(context.Background(), time.Nanosecond)
	for { // poll until the budget has passed (one nanosecond)
		if end, _ := budget.Deadline(ctx); time.Now().After(end) {
			break
		}
	}
	cctx, cancel := Context(ctx, time.Second)
	defer cancel()
	if err := cctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a context already past its deadline", err)
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
			got, err := Do(context.Background(), 20*time.Millisecond, tt.direct, tt.op)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("got (%d, %v), want (%d, %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !IsTimeout(err) {
				t.Fatalf("got IsTimeout(%v) false, want true", err)
			}
		})
	}
}
