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

// TestL1Invalidation checks that with client-side caching on, warm hits are
// answered in process, and that a Forget or a ForgetAll+write by another
// process invalidates them within a bounded time.
func TestL1Invalidation(t *testing.T) {
	t.Parallel()
	target, csc := memo.L1Client(t)
	other := core.NewFromRedis(redistest.NewClient(t, target))

	var version atomic.Int64
	version.Store(1)
	fn := func(_ context.Context, k string) (string, error) {
		return fmt.Sprintf("%s@v%d", k, version.Load()), nil
	}
	ns := redistest.Prefix(t)
	opts := memo.Options{TTL: time.Minute, Beta: -1, GenerationRefresh: 20 * time.Millisecond}
	a := wrap(t, csc, ns, fn, opts)
	b := wrap(t, other, ns, fn, opts)
	if !a.L1() || b.L1() {
		t.Fatalf("L1: got a=%v b=%v, want a=true b=false", a.L1(), b.L1())
	}
	ctx := context.Background()
	get := func(f *memo.Func[string, string], k string) string {
		t.Helper()
		v, err := f.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(a, "k"); v != "k@v1" {
		t.Fatalf("cold Get: got %q, want \"k@v1\"", v)
	}
	before := a.Stats().L1Hits
	for range 100 {
		if v := get(a, "k"); v != "k@v1" {
			t.Fatalf("warm Get: got %q, want \"k@v1\"", v)
		}
	}
	if got := a.Stats().L1Hits - before; got < 90 {
		t.Fatalf("L1 hits over 100 warm Gets: got %d, want >= 90", got)
	}

	steps := []struct {
		name  string
		write func()
	}{
		{"Forget from another process", func() { must(t, b.Forget(ctx, "k")) }},
		{"ForgetAll and reload from another process", func() { must(t, b.ForgetAll(ctx)); get(b, "k") }},
	}
	for _, s := range steps {
		want := fmt.Sprintf("k@v%d", version.Add(1))
		s.write()
		redistest.Eventually(t, time.Second, s.name+": L1 invalidated", func() bool { return get(a, "k") == want })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
