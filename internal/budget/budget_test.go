package budget

import (
	"context"
	"testing"
	"time"
)

func TestWith(t *testing.T) {
	t.Parallel()
	base := context.Background()
	if _, ok := Deadline(base); ok {
		t.Fatalf("got a budget on a bare context, want none")
	}
	if got := With(base, 0); got != base {
		t.Fatalf("got a new context for d = 0, want ctx as is")
	}
	before := time.Now()
	ctx := With(base, time.Second)
	end, ok := Deadline(ctx)
	if !ok || end.Before(before.Add(time.Second)) || end.After(time.Now().Add(time.Second)) {
		t.Fatalf("got deadline %v (ok %v), want about 1s from %v", end, ok, before)
	}
	if got := With(ctx, time.Hour); got != ctx {
		t.Fatalf("got a second budget, want the first one kept")
	}
	if got, _ := Deadline(context.WithoutCancel(ctx)); !got.Equal(end) {
		t.Fatalf("got %v through WithoutCancel, want %v", got, end)
	}
}
