package budget

import (
	"context"
	"testing"
	"time"
)

func TestWith(t *testing.T) {
	t.Parallel()
	base := context.Background()
	if From(base) != nil {
		t.Fatalf("got a budget on a bare context, want none")
	}
	if got := With(base, 0); got != base {
		t.Fatalf("got a new context for d = 0, want ctx as is")
	}
	ctx := With(base, time.Second)
	b := From(ctx)
	if b == nil || b.Left() != time.Second {
		t.Fatalf("got budget %v, want 1s left", b)
	}
	if got := With(ctx, time.Hour); got != ctx {
		t.Fatalf("got a second budget, want the first one kept")
	}
	if got := From(context.WithoutCancel(ctx)); got != b {
		t.Fatalf("got %v through WithoutCancel, want the request's budget", got)
	}
	b.Spend(300 * time.Millisecond)
	if got := From(context.WithValue(ctx, "k", 1)).Left(); got != 700*time.Millisecond {
		t.Fatalf("got %v left after spending 300ms of 1s, want 700ms", got)
	}
}

func TestWithout(t *testing.T) {
	t.Parallel()
	ctx := context.WithValue(With(context.Background(), time.Second), "k", "v")
	free := Without(ctx)
	if From(free) != nil {
		t.Fatalf("got a budget after Without, want none")
	}
	if free.Value("k") != "v" {
		t.Fatalf("got %v for another value, want it kept", free.Value("k"))
	}
	if again := With(free, time.Minute); From(again) == nil || From(again).Left() != time.Minute {
		t.Fatalf("got no fresh budget on a ctx whose budget was removed, want one")
	}
	bare := context.Background()
	if Without(bare) != bare {
		t.Fatalf("got a new context from Without on a bare ctx, want ctx as is")
	}
}

func TestWithAllocs(t *testing.T) {
	base := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = With(base, time.Second) }); n != 1 {
		t.Fatalf("got %v allocations per With, want 1", n)
	}
}
