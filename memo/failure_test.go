package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// failureCase is one failure policy and what Get must answer under it.
type failureCase struct {
	name       string
	failClosed bool
}

var failurePolicies = []failureCase{{"fail open", false}, {"fail closed", true}}

func checkPolicy(t *testing.T, fc failureCase, f *memo.Func[string, string], src *source, k string, within time.Duration) {
	t.Helper()
	checkPolicyCtx(t, context.Background(), fc, f, src, k, within)
}

func checkPolicyCtx(t *testing.T, ctx context.Context, fc failureCase, f *memo.Func[string, string], src *source, k string, within time.Duration) {
	t.Helper()
	before := src.calls.Load()
	start := time.Now()
	v, err := f.Get(ctx, k)
	took := time.Since(start)
	if fc.failClosed {
		if !errors.Is(err, memo.ErrUnavailable) || v != "" {
			t.Fatalf("fail closed: got (%q, %v), want ErrUnavailable", v, err)
		}
		if src.calls.Load() != before {
			t.Fatalf("fail closed: fn called with Redis down, want no call")
		}
	} else if err != nil || v == "" || src.calls.Load() != before+1 {
		t.Fatalf("fail open: got (%q, %v) with %d new fn calls, want fn's value and 1 call", v, err, src.calls.Load()-before)
	}
	if took > within {
		t.Fatalf("Get took %v with Redis down, want at most %v", took, within)
	}
	if f.Stats().Errors == 0 {
		t.Fatalf("redis errors: got 0, want > 0")
	}
}

func TestRedisStoppedMidTest(t *testing.T) {
	t.Parallel()
	for _, fc := range failurePolicies {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartServer(t, redistest.ServerOptions{})
			c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
			src := &source{}
			var reported atomic.Int64
			f := wrap(t, c, "t", src.fn, memo.Options{
				FailClosed: fc.failClosed, Timeout: 200 * time.Millisecond,
				OnError: func(_ context.Context, err error) {
					if errors.Is(err, memo.ErrUnavailable) {
						reported.Add(1)
					}
				},
			})
			ctx := context.Background()
			if v, err := f.Get(ctx, "warm"); v != "warm#1" || err != nil {
				t.Fatalf("Get with Redis up: got (%q, %v), want (\"warm#1\", nil)", v, err)
			}
			srv.Stop()
			checkPolicy(t, fc, f, src, "warm", 2*time.Second)
			checkPolicy(t, fc, f, src, "cold", 2*time.Second)
			if reported.Load() == 0 {
				t.Fatal("OnError: got no ErrUnavailable, want the Redis errors reported")
			}
			if err := f.ForgetAll(ctx); !errors.Is(err, memo.ErrUnavailable) {
				t.Fatalf("ForgetAll with Redis down: got %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestSlowRedis checks that a Redis that stops answering adds at most
// Timeout to a call (plus fn's own time), or twice that to the call that
// rereads the generation when it is due: whether go-redis applies ctx
// deadlines to the socket (ContextTimeoutEnabled) or not.
func TestSlowRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	n := 0
	for _, fc := range failurePolicies {
		for _, direct := range []bool{false, true} {
			for _, refresh := range []time.Duration{0, time.Nanosecond} {
				n++
				ns := fmt.Sprintf("t%d", n)
				t.Run(fmt.Sprintf("%s/ContextTimeoutEnabled=%v/GenerationRefresh=%v", fc.name, direct, refresh), func(t *testing.T) {
					t.Parallel()
					proxy := faultproxy.New(t, srv.Addr())
					rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, ReadTimeout: 10 * time.Second, ContextTimeoutEnabled: direct})
					t.Cleanup(func() { _ = rdb.Close() })
					src := &source{}
					timeout := 100 * time.Millisecond
					f := wrap(t, core.NewFromRedis(rdb), ns, src.fn, memo.Options{FailClosed: fc.failClosed, Timeout: timeout, GenerationRefresh: refresh})
					if _, err := f.Get(context.Background(), "warm"); err != nil {
						t.Fatal(err)
					}
					proxy.Blackhole()
					t.Cleanup(proxy.Restore)
					checkPolicy(t, fc, f, src, "warm", 2*timeout+time.Second)
				})
			}
		}
	}
}

func TestCorruptEntryIsAMiss(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		src := &source{}
		var corrupt atomic.Int64
		f := wrap(t, core.NewFromRedis(tc.RDB), tc.Prefix, src.fn, memo.Options{
			OnError: func(_ context.Context, err error) {
				if errors.Is(err, memo.ErrCorrupt) {
					corrupt.Add(1)
				}
			},
		})
		if _, err := f.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		keys, err := core.NewFromRedis(tc.RDB).FindKeys(ctx, core.EscapeGlob(tc.Prefix)+":users:g*:k", 10)
		if err != nil || len(keys) != 1 {
			t.Fatalf("entry keys: got %v, %v; want exactly one", keys, err)
		}
		for i, garbage := range []string{"not json", `{"value":"x"}`} {
			if err := tc.RDB.Set(ctx, keys[0], garbage, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			want := "k#" + string(rune('2'+i))
			if v, err := f.Get(ctx, "k"); v != want || err != nil {
				t.Fatalf("Get of corrupt entry %q: got (%q, %v), want (%q, nil)", garbage, v, err, want)
			}
			if got := corrupt.Load(); got != int64(i+1) {
				t.Fatalf("corrupt entries reported: got %d, want %d", got, i+1)
			}
			if v, err := f.Get(ctx, "k"); v != want || err != nil { // overwritten: a hit now
				t.Fatalf("Get after overwrite: got (%q, %v), want (%q, nil)", v, err, want)
			}
		}
		if st := f.Stats(); st.CorruptEntries != 2 || st.Loads != 3 {
			t.Fatalf("stats: got corrupt %d, loads %d; want 2, 3", st.CorruptEntries, st.Loads)
		}
	})
}

// refuseSet fails every SET command, as a Redis that serves reads but
// refuses writes would (out of memory under noeviction, say).
type refuseSet struct{}

var errRefused = errors.New("OOM command not allowed when used memory > 'maxmemory'")

func (refuseSet) DialHook(next redis.DialHook) redis.DialHook { return next }

func (refuseSet) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "set" {
			cmd.SetErr(errRefused)
			return errRefused
		}
		return next(ctx, cmd)
	}
}

func (refuseSet) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestLeaseRedisError checks the failure policy when Redis fails while the
// lease is taken (SET NX): fail open loads anyway, fail closed never calls fn.
func TestLeaseRedisError(t *testing.T) {
	t.Parallel()
	for _, fc := range failurePolicies {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
				rdb := redistest.NewClient(t, tc.Target)
				rdb.AddHook(refuseSet{})
				src := &source{}
				f := wrap(t, core.NewFromRedis(rdb), tc.Prefix, src.fn, memo.Options{Lease: true, FailClosed: fc.failClosed})
				v, err := f.Get(context.Background(), "k")
				if fc.failClosed {
					if !errors.Is(err, memo.ErrUnavailable) || !errors.Is(err, errRefused) || src.calls.Load() != 0 {
						t.Fatalf("fail closed: got (%q, %v) and %d fn calls, want ErrUnavailable and no call", v, err, src.calls.Load())
					}
					return
				}
				if v != "k#1" || err != nil {
					t.Fatalf("fail open: got (%q, %v), want (\"k#1\", nil)", v, err)
				}
			})
		})
	}
}

// TestCancelledReaderLeavesAtOnce checks that a caller whose ctx ends while
// it reads an entry from a silent Redis returns ctx.Err() at once, not after
// Timeout, whether it runs the GET or waits for another caller's; and
// that when the caller running a shared GET leaves, the others still get
// the entry.
func TestCancelledReaderLeavesAtOnce(t *testing.T) {
	t.Parallel()
	const redisTimeout = 3 * time.Second
	type reader struct { // a Get that another reader's GET is in flight for
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error // nil: want the stored value
	}
	cases := []struct {
		name     string
		fault    func(p *faultproxy.Proxy)
		first    func() (context.Context, context.CancelFunc) // nil: no other reader
		firstErr error                                        // what first gets, once Redis answers again
		second   reader
	}{
		{"own GET, deadline", (*faultproxy.Proxy).Blackhole, nil, nil,
			reader{func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}, context.DeadlineExceeded}},
		{"waiting for another's GET, cancelled", (*faultproxy.Proxy).Blackhole,
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, nil,
			reader{func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			}, context.Canceled}},
		{"the GET's first caller leaves", func(p *faultproxy.Proxy) { p.Delay(100 * time.Millisecond) },
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			}, context.DeadlineExceeded,
			reader{func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, nil}},
	}
	for _, c := range cases {
		for _, ctxTimeouts := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ContextTimeoutEnabled=%v", c.name, ctxTimeouts), func(t *testing.T) {
				t.Parallel()
				srv := redistest.StartServer(t, redistest.ServerOptions{})
				proxy := faultproxy.New(t, srv.Addr())
				rdb := redis.NewClient(&redis.Options{
					Addr: proxy.Addr(), MaxRetries: -1, ReadTimeout: 10 * time.Second, ContextTimeoutEnabled: ctxTimeouts,
				})
				t.Cleanup(func() { _ = rdb.Close() })
				f := wrap(t, core.NewFromRedis(rdb), "t", (&source{}).fn, memo.Options{Timeout: redisTimeout})
				if _, err := f.Get(context.Background(), "k"); err != nil {
					t.Fatal(err)
				}
				c.fault(proxy)
				firstDone := make(chan error, 1)
				if c.first == nil {
					firstDone <- nil
				} else {
					ctx, cancel := c.first()
					defer cancel()
					go func() { _, err := f.Get(ctx, "k"); firstDone <- err }()
					redistest.Eventually(t, time.Second, "first GET in flight", func() bool { return memo.ReadsInFlight(f) == 1 })
				}
				ctx, cancel := c.second.ctx()
				defer cancel()
				start := time.Now()
				v, err := f.Get(ctx, "k")
				took := time.Since(start)
				switch {
				case c.second.wantErr != nil && (!errors.Is(err, c.second.wantErr) || took > redisTimeout/3):
					t.Fatalf("Get: got %v after %v, want %v within %v", err, took, c.second.wantErr, redisTimeout/3)
				case c.second.wantErr == nil && (v != "k#1" || err != nil):
					t.Fatalf("Get: got (%q, %v), want (\"k#1\", nil)", v, err)
				}
				proxy.Restore()
				if err := <-firstDone; c.first != nil && !errors.Is(err, c.firstErr) {
					t.Fatalf("first Get: got %v, want %v", err, c.firstErr)
				}
			})
		}
	}
}

// TestEndedContext checks that a Get whose ctx has already ended returns
// its error, warm entry or not, without reading Redis (the hit's GET is
// detached from cancellation once started, not before).
func TestEndedContext(t *testing.T) {
	t.Parallel()
	f := wrap(t, core.NewFromRedis(redistest.Standalone(t)), "ended", (&source{}).fn, memo.Options{})
	if _, err := f.Get(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	cases := []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"past its deadline", expired, context.DeadlineExceeded}}
	for _, c := range cases {
		before := f.Stats()
		if v, err := f.Get(c.ctx, "k"); !errors.Is(err, c.want) {
			t.Fatalf("%s: got (%q, %v), want %v", c.name, v, err, c.want)
		}
		if st := f.Stats(); st.Hits != before.Hits || st.Loads != before.Loads || st.Errors != before.Errors {
			t.Fatalf("%s: stats %+v after %+v, want no hit, load or error counted", c.name, st, before)
		}
	}
}

func TestNilContext(t *testing.T) {
	t.Parallel()
	f := wrap(t, core.NewFromRedis(redistest.Standalone(t)), "nilctx", (&source{}).fn, memo.Options{})
	var nilCtx context.Context
	cases := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := f.Get(nilCtx, "k"); return err }},
		{"Forget", func() error { return f.Forget(nilCtx, "k") }},
		{"ForgetAll", func() error { return f.ForgetAll(nilCtx) }},
	}
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, core.ErrNilContext) {
			t.Errorf("%s(nil ctx): got %v, want core.ErrNilContext", c.name, err)
		}
	}
}

type callerKey struct{}

// TestOnErrorGetsCallerContext: OnError receives the ctx of the Get that
// failed, so a handler can read the caller's values (the request, with
// core.RequestFromContext).
func TestOnErrorGetsCallerContext(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
	var got atomic.Value
	f := wrap(t, c, "t", (&source{}).fn, memo.Options{
		OnError: func(ctx context.Context, err error) {
			if v, ok := ctx.Value(callerKey{}).(string); ok && errors.Is(err, memo.ErrUnavailable) {
				got.Store(v)
			}
		},
	})
	srv.Stop()
	ctx := context.WithValue(context.Background(), callerKey{}, "caller")
	if _, err := f.Get(ctx, "k"); err != nil {
		t.Fatalf("Get with Redis down (fail open): got %v, want nil", err)
	}
	if got.Load() != "caller" {
		t.Fatalf("OnError ctx: got value %v, want the caller's \"caller\"", got.Load())
	}
}

// TestRequestBudget: a ctx carrying a request budget (core.Client.WithBudget)
// bounds Get's Redis waiting by what is left of it, below Options.Timeout.
func TestRequestBudget(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", direct), func(t *testing.T) {
			t.Parallel()
			srv := redistest.StartServer(t, redistest.ServerOptions{})
			proxy := faultproxy.New(t, srv.Addr())
			rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, ReadTimeout: 10 * time.Second, ContextTimeoutEnabled: direct})
			t.Cleanup(func() { _ = rdb.Close() })
			c := core.NewFromRedis(rdb).WithRequestBudget(100 * time.Millisecond)
			src := &source{}
			f := wrap(t, c, "t", src.fn, memo.Options{Timeout: 5 * time.Second})
			if _, err := f.Get(context.Background(), "warm"); err != nil {
				t.Fatal(err)
			}
			proxy.Blackhole()
			t.Cleanup(proxy.Restore)
			checkPolicyCtx(t, c.WithBudget(context.Background()), failurePolicies[0], f, src, "warm", time.Second)
		})
	}
}

// TestGenerationFailureCountedOnce: callers that share a failed first read
// of the generation, or fail at once after it, count and report it once.
func TestGenerationFailureCountedOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
	var reported atomic.Int64
	src := &source{}
	f := wrap(t, c, "t", src.fn, memo.Options{
		Timeout: 5 * time.Second, // how long Gets fail at once after the failed read
		OnError: func(context.Context, error) { reported.Add(1) },
	})
	srv.Stop()
	_, errs := hammer(20, func() (string, error) { return f.Get(context.Background(), "k") })
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Get with Redis down (fail open): got %v, want nil", err)
		}
	}
	if got, rep := f.Stats().Errors, reported.Load(); got != 1 || rep != 1 {
		t.Fatalf("generation read failures: counted %d, reported %d, want 1, 1", got, rep)
	}
}
