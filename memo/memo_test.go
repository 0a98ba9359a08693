package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// source is a wrapped function with a call counter; gate, when set, blocks
// calls numbered >= gateFrom until it is closed.
type source struct {
	calls    atomic.Int64
	delay    time.Duration
	gate     chan struct{}
	gateFrom int64
	err      func(n int64) error // error to return for call n, or nil
}

func (s *source) fn(ctx context.Context, k string) (string, error) {
	n := s.calls.Add(1)
	if s.gate != nil && n >= s.gateFrom {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.err != nil {
		if err := s.err(n); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s#%d", k, n), nil
}

// wrap builds a memo.Func on tc's client (or rdbClient) in tc's namespace.
func wrap(t *testing.T, c *core.Client, ns string, fn func(context.Context, string) (string, error), opts memo.Options) *memo.Func[string, string] {
	t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = ns
	}
	f, err := memo.Wrap(c, "users", fn, opts)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	return f
}

// hammer runs n goroutines calling get at once and returns their results.
func hammer(n int, get func() (string, error)) ([]string, []error) {
	vals, errs := make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			vals[i], errs[i] = get()
		}()
	}
	close(start)
	wg.Wait()
	return vals, errs
}

func checkAll(t *testing.T, vals []string, errs []error, want string) {
	t.Helper()
	for i := range vals {
		if errs[i] != nil || vals[i] != want {
			t.Fatalf("result %d: got (%q, %v), want (%q, nil)", i, vals[i], errs[i], want)
		}
	}
}

func TestStampedeOneProcess(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{delay: 20 * time.Millisecond}
		f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, memo.Options{})
		ctx := context.Background()
		vals, errs := hammer(1000, func() (string, error) { return f.Get(ctx, "ada") })
		checkAll(t, vals, errs, "ada#1")
		if got := src.calls.Load(); got != 1 {
			t.Fatalf("fn calls: got %d, want 1", got)
		}
		if v, err := f.Get(ctx, "ada"); v != "ada#1" || err != nil {
			t.Fatalf("warm Get: got (%q, %v), want (\"ada#1\", nil)", v, err)
		}
		if st := f.Stats(); st.Loads != 1 || st.Hits < 1 {
			t.Fatalf("stats: got %+v, want Loads 1 and Hits >= 1", st)
		}
	})
}

func TestStampedeAcrossProcesses(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{delay: 100 * time.Millisecond}
		funcs := make([]*memo.Func[string, string], 8)
		for i := range funcs {
			c := core.NewFromRedis(redistest.NewClient(t, tc.Target))
			funcs[i] = wrap(t, c, tc.Prefix, src.fn, memo.Options{Lease: true})
			if err := c.Ping(context.Background()); err != nil { // connect before the stampede
				t.Fatal(err)
			}
		}
		var n atomic.Int64
		vals, errs := hammer(800, func() (string, error) {
			return funcs[n.Add(1)%8].Get(context.Background(), "grace")
		})
		checkAll(t, vals, errs, "grace#1")
		if got := src.calls.Load(); got != 1 {
			t.Fatalf("fn calls across 8 processes: got %d, want 1", got)
		}
		var waits int64
		for _, f := range funcs {
			waits += f.Stats().LeaseWaits
		}
		if waits == 0 {
			t.Fatalf("lease waits: got 0, want > 0 (the other processes should have waited)")
		}
	})
}

func TestCallerCancelDoesNotCancelOthers(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{gate: make(chan struct{}), gateFrom: 1}
		var fnCtxErr atomic.Value
		fn := func(ctx context.Context, k string) (string, error) {
			v, err := src.fn(ctx, k)
			fnCtxErr.Store(fmt.Sprint(ctx.Err()))
			return v, err
		}
		f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, fn, memo.Options{})
		cctx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() { _, err := f.Get(cctx, "k"); first <- err }()
		redistest.Eventually(t, 5*time.Second, "the first caller's load running", func() bool { return src.calls.Load() > 0 })
		second := make(chan string, 1)
		go func() { v, _ := f.Get(context.Background(), "k"); second <- v }()
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: got %v, want context.Canceled", err)
		}
		close(src.gate)
		if v := <-second; v != "k#1" {
			t.Fatalf("other caller: got %q, want \"k#1\"", v)
		}
		if got := fnCtxErr.Load(); got != "<nil>" {
			t.Fatalf("fn's ctx.Err(): got %v, want nil (load must be detached)", got)
		}
		if got := src.calls.Load(); got != 1 {
			t.Fatalf("fn calls: got %d, want 1", got)
		}
	})
}

var errNoUser = errors.New("no such user")

func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	isNoUser := func(err error) bool { return errors.Is(err, errNoUser) }
	cases := []struct {
		name      string
		opts      memo.Options
		err       error
		wantCalls int64 // after three Gets
		wantIs    []error
	}{
		{"sentinel", memo.Options{NotFound: errNoUser}, errNoUser, 1, []error{memo.ErrNotFound, errNoUser}},
		{"func", memo.Options{IsNotFound: isNoUser}, fmt.Errorf("db: %w", errNoUser), 1, []error{memo.ErrNotFound}},
		{"not configured", memo.Options{}, errNoUser, 3, []error{errNoUser}},
		{"other error", memo.Options{NotFound: errNoUser}, errors.New("boom"), 3, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				src := &source{err: func(int64) error { return c.err }}
				f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, c.opts)
				for i := range 3 {
					_, err := f.Get(context.Background(), "nobody")
					if err == nil {
						t.Fatalf("Get %d: got nil error, want one", i)
					}
					for _, want := range c.wantIs {
						if !errors.Is(err, want) {
							t.Fatalf("Get %d: got %v, want errors.Is %v", i, err, want)
						}
					}
				}
				if got := src.calls.Load(); got != c.wantCalls {
					t.Fatalf("fn calls: got %d, want %d", got, c.wantCalls)
				}
				if c.wantCalls == 1 && f.Stats().NegativeHits != 2 {
					t.Fatalf("negative hits: got %d, want 2", f.Stats().NegativeHits)
				}
			})
		})
	}
}

func TestNegativeTTLExpires(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{err: func(n int64) error {
			if n == 1 {
				return errNoUser
			}
			return nil
		}}
		f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, memo.Options{
			NotFound: errNoUser, TTL: time.Minute, NegativeTTL: 50 * time.Millisecond, Jitter: -1,
		})
		ctx := context.Background()
		if _, err := f.Get(ctx, "late"); !errors.Is(err, errNoUser) {
			t.Fatalf("first Get: got %v, want errNoUser", err)
		}
		redistest.Eventually(t, 2*time.Second, "negative entry gone after NegativeTTL 50ms", func() bool {
			v, err := f.Get(ctx, "late")
			if err == nil && v != "late#2" {
				t.Fatalf("after NegativeTTL: got %q, want \"late#2\"", v)
			}
			return err == nil
		})
	})
}

func TestForgetAndForgetAll(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		src := &source{}
		opts := memo.Options{GenerationRefresh: 20 * time.Millisecond}
		a := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, opts)
		b := wrap(t, core.NewFromRedis(redistest.NewClient(t, tc.Target)), tc.Prefix, src.fn, opts)
		ctx := context.Background()
		mustGet := func(f *memo.Func[string, string], k, want string) {
			t.Helper()
			if v, err := f.Get(ctx, k); v != want || err != nil {
				t.Fatalf("Get(%q): got (%q, %v), want (%q, nil)", k, v, err, want)
			}
		}
		mustGet(a, "x", "x#1")
		mustGet(a, "y", "y#2")
		mustGet(b, "x", "x#1")
		if err := a.Forget(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		mustGet(b, "x", "x#3") // the other process sees the Forget at once
		mustGet(a, "y", "y#2")
		if err := b.ForgetAll(ctx); err != nil {
			t.Fatal(err)
		}
		mustGet(b, "y", "y#4")
		// a sees the new generation within GenerationRefresh
		redistest.Eventually(t, 2*time.Second, "y#4 after ForgetAll elsewhere", func() bool {
			v, err := a.Get(ctx, "y")
			if err != nil {
				t.Fatal(err)
			}
			return v == "y#4"
		})
	})
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		c := core.NewFromRedis(tc.RDB)
		slow := func(ctx context.Context, k string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}
		f := wrap(t, c, tc.Prefix, slow, memo.Options{LoadTimeout: 30 * time.Millisecond})
		if _, err := f.Get(context.Background(), "k"); !errors.Is(err, memo.ErrLoadTimeout) {
			t.Fatalf("slow fn: got %v, want ErrLoadTimeout", err)
		}
		panicky := func(context.Context, string) (string, error) { panic("kaboom") }
		p, err := memo.Wrap(c, "panicky", panicky, memo.Options{Namespace: tc.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Get(context.Background(), "k"); err == nil {
			t.Fatal("panicking fn: got nil error, want one")
		}
		if st := p.Stats(); st.LoadErrors != 1 {
			t.Fatalf("load errors: got %d, want 1", st.LoadErrors)
		}
	})
}
