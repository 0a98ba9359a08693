package batch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/call"
)

// recorder is a send func that records the size of every batch and which
// scratch space it used, then blocks while gate is held, then doubles each
// request (negative ones fail).
type recorder struct {
	mu      sync.Mutex
	batches []int
	scratch map[*int]bool
	gate    sync.RWMutex
}

func (r *recorder) send(ctx context.Context, b []*batch.Pending[int], s *int) {
	r.mu.Lock()
	r.batches = append(r.batches, len(b))
	if r.scratch == nil {
		r.scratch = map[*int]bool{}
	}
	r.scratch[s] = true
	r.mu.Unlock()
	r.gate.RLock()
	defer r.gate.RUnlock()
	*s++ // a data race if two sends shared a scratch space
	for _, p := range b {
		if p.Req < 0 {
			p.Err = errors.New("negative")
			continue
		}
		p.Req *= 2
	}
}

func do(ctx context.Context, b *batch.Batcher[int, int], v int) (int, error) {
	p := b.Get()
	defer b.Release(p)
	p.Req = v
	if err := b.Do(ctx, p); err != nil {
		return 0, err // p is not read: its batch may still be writing it
	}
	return p.Req, nil
}

// An idle batcher sends a request alone from its caller (with Alone: 1);
// requests arriving while that send is in flight go out together in the
// next batch, each with its own reply or error.
func TestBatches(t *testing.T) {
	r := &recorder{}
	b := batch.New(batch.Options{Alone: 1, Timeout: 10 * time.Second, MaxQueued: 100}, r.send)
	if v, err := do(context.Background(), b, 1); v != 2 || err != nil {
		t.Fatalf("alone: got %d, %v, want 2, nil", v, err)
	}
	r.gate.Lock() // every send blocks: the first caller's, alone, then the flusher's
	first := make(chan error)
	go func() { _, err := do(context.Background(), b, 1); first <- err }()
	waitFor(t, func() bool { return sends(r) == 2 })
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	vals := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v := i
			if i == 7 {
				v = -1
			}
			vals[i], errs[i] = do(context.Background(), b, v)
		})
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the blocked send
	r.gate.Unlock()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		switch {
		case i == 7 && (errs[i] == nil || errs[i].Error() != "negative"):
			t.Errorf("request %d: got %v, want its own error", i, errs[i])
		case i != 7 && (errs[i] != nil || vals[i] != 2*i):
			t.Errorf("request %d: got %d, %v, want %d, nil", i, vals[i], errs[i], 2*i)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) >= 2+n || len(r.scratch) < 2 { // the first two sent alone
		t.Errorf("got batches %v with %d scratch spaces, want the %d requests in fewer batches, the flusher's and at least one more", r.batches, len(r.scratch), n)
	}
}

// A caller waits at most its bound: the timeout, its budget, or its
// context's deadline (which it reports as its context's error, unless the
// batcher is Detached); a request whose caller gave up is not sent, and a
// cancelled caller returns at once unless the batcher is Detached. Each
// wait is taken off the budget.
func TestBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		detached bool
		timeout  time.Duration
		ctx      func() (context.Context, context.CancelFunc)
		cancel   bool // cancel ctx while the request waits
		want     error
		notWant  error // nil: none
		max      time.Duration
	}{
		{name: "timeout", timeout: 50 * time.Millisecond, want: call.ErrTimeout, max: time.Second},
		{name: "budget", timeout: 10 * time.Second, want: call.ErrTimeout, max: time.Second, ctx: func() (context.Context, context.CancelFunc) {
			return budget.With(context.Background(), 50*time.Millisecond), func() {}
		}},
		{name: "deadline", timeout: 10 * time.Second, want: context.DeadlineExceeded, notWant: call.ErrTimeout, max: time.Second,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
		{name: "deadline, detached", detached: true, timeout: 10 * time.Second, want: call.ErrTimeout, max: time.Second,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}},
		{name: "cancelled", timeout: 10 * time.Second, cancel: true, want: context.Canceled, max: time.Second},
		{name: "cancelled, detached", detached: true, timeout: 200 * time.Millisecond, cancel: true, want: call.ErrTimeout, max: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			var waited atomic.Int64 // the waits of every caller
			b := batch.New(batch.Options{Alone: 1, Timeout: tc.timeout, MaxQueued: 100, Detached: tc.detached,
				Wait: func(_ context.Context, d time.Duration) { waited.Add(int64(d)) }}, r.send)
			r.gate.Lock()
			busy := make(chan error, 2)
			for want := 1; want <= 2; want++ { // one sent alone, one by the flusher: both blocked
				go func() { _, err := do(context.Background(), b, 1); busy <- err }()
				waitFor(t, func() bool { return sends(r) == want })
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			if tc.cancel {
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			bud := budget.From(ctx)
			start := time.Now()
			_, err := do(ctx, b, 1)
			took := time.Since(start)
			if !errors.Is(err, tc.want) || (tc.notWant != nil && errors.Is(err, tc.notWant)) || took > tc.max {
				t.Errorf("got %v after %v, want %v (not %v) within %v", err, took, tc.want, tc.notWant, tc.max)
			}
			if bud != nil && bud.Left() > 0 {
				t.Errorf("budget: %v left, want the wait taken off", bud.Left())
			}
			r.gate.Unlock()
			for range 2 {
				<-busy // the queued one may have given up at its own Timeout
			}
			waitFor(t, func() bool { return !blocked(r) })
			if got := sends(r); got != 2 {
				t.Errorf("got %d sends, want 2: the request that gave up is not sent", got)
			}
			if waited.Load() < int64(40*time.Millisecond) {
				t.Errorf("waits reported: %v, want the waits", time.Duration(waited.Load()))
			}
		})
	}
}

// Beyond MaxQueued waiting requests Do fails at once; a request whose
// budget is spent or whose context ended is refused before it is queued.
func TestRefused(t *testing.T) {
	r := &recorder{}
	b := batch.New(batch.Options{Alone: 1, Timeout: 10 * time.Second, MaxQueued: 2}, r.send)
	spent := budget.With(context.Background(), time.Second)
	budget.From(spent).Spend(time.Second)
	if _, err := do(spent, b, 1); !errors.Is(err, call.ErrTimeout) {
		t.Errorf("spent budget: got %v, want ErrTimeout", err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := do(ended, b, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: got %v, want context.Canceled", err)
	}
	r.gate.Lock()
	var wg sync.WaitGroup
	for want := 1; want <= 2; want++ { // one sent alone, one by the flusher: both blocked
		wg.Go(func() { _, _ = do(context.Background(), b, 1) })
		waitFor(t, func() bool { return sends(r) == want })
	}
	for range 2 { // queued
		wg.Go(func() { _, _ = do(context.Background(), b, 1) })
	}
	waitFor(t, func() bool { return b.Queued() == 2 })
	if _, err := do(context.Background(), b, 1); !errors.Is(err, batch.ErrOverloaded) {
		t.Errorf("queue full: got %v, want ErrOverloaded", err)
	}
	r.gate.Unlock()
	wg.Wait()
}

func sends(r *recorder) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

// blocked reports whether a send holds the gate.
func blocked(r *recorder) bool {
	if r.gate.TryLock() {
		r.gate.Unlock()
		return false
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}

// Without Alone every request goes through the flusher, in batches.
func TestNotAlone(t *testing.T) {
	r := &recorder{}
	b := batch.New(batch.Options{Timeout: 10 * time.Second, MaxQueued: 100}, r.send)
	for i := range 3 {
		if v, err := do(context.Background(), b, i); v != 2*i || err != nil {
			t.Fatalf("got %d, %v, want %d, nil", v, err, 2*i)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.scratch) != 1 {
		t.Errorf("got %d scratch spaces, want the flusher's only", len(r.scratch))
	}
}

// With Alone: 2, two callers send alone at once and only a third queues.
func TestAloneLimit(t *testing.T) {
	r := &recorder{}
	b := batch.New(batch.Options{Alone: 2, Timeout: 10 * time.Second}, r.send)
	r.gate.Lock()
	var wg sync.WaitGroup
	for want := 1; want <= 2; want++ {
		wg.Go(func() { _, _ = do(context.Background(), b, 1) })
		waitFor(t, func() bool { return sends(r) == want })
	}
	if q := b.Queued(); q != 0 {
		t.Errorf("got %d queued with two callers sending alone, want 0", q)
	}
	wg.Go(func() { _, _ = do(context.Background(), b, 1) }) // the flusher's
	waitFor(t, func() bool { return sends(r) == 3 })
	wg.Go(func() { _, _ = do(context.Background(), b, 1) })
	waitFor(t, func() bool { return b.Queued() == 1 })
	r.gate.Unlock()
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.scratch) < 3 {
		t.Errorf("got %d scratch spaces for 3 sends at once, want one each", len(r.scratch))
	}
}
