package viewcount_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var testSecret = []byte("test-secret-0123456789abcdef")

// newCounter builds a Counter over rdb under a namespace unique to the test,
// closed at cleanup.
func newCounter(t *testing.T, rdb redis.UniversalClient, ns string, opts viewcount.Options) *viewcount.Counter {
	t.Helper()
	opts.Secret = testSecret
	opts.Namespace = ns
	c, err := viewcount.New(core.NewFromRedis(rdb), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { // bounded: a durable Counter whose flushes fail keeps trying until its ctx ends
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// fakeClock is an injectable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// roundTrips counts what a go-redis client sends: a single command or a
// pipeline is one round trip (per node, when hooked on cluster nodes).
type roundTrips struct {
	trips, cmds atomic.Int64
	// fail, if set, decides per pipeline (numbered from 1) whether to fail
	// it, and whether to send it first (a reply lost after the write).
	fail func(n int64) (fail, send bool)
	// afterSend, if set, runs after a failing pipeline was sent.
	afterSend func()
	pipe      atomic.Int64
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !internalCmd(cmd) {
			h.trips.Add(1)
			h.cmds.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && internalCmd(cmds[0]) {
			return next(ctx, cmds) // connection setup (CLIENT SETINFO)
		}
		h.trips.Add(1)
		h.cmds.Add(int64(len(cmds)))
		if h.fail != nil {
			if fail, send := h.fail(h.pipe.Add(1)); fail {
				if send {
					_ = next(ctx, cmds)
					if h.afterSend != nil {
						h.afterSend()
					}
				}
				err := &net.OpError{Op: "read", Net: "tcp", Err: errInjected}
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		return next(ctx, cmds)
	}
}

type injectedError struct{}

func (injectedError) Error() string { return "injected: connection reset" }

var errInjected = injectedError{}

// internalCmd is connection setup or cluster bookkeeping go-redis sends
// on its own.
func internalCmd(cmd redis.Cmder) bool {
	name := strings.ToLower(cmd.Name())
	return name == "cluster" || name == "command" || name == "hello" || name == "client"
}

// hookNodes counts round trips per cluster node (or on the standalone client).
func hookNodes(rdb redis.UniversalClient) *nodeTrips {
	nt := &nodeTrips{m: map[string]*roundTrips{}}
	add := func(c *redis.Client) {
		h := &roundTrips{}
		nt.mu.Lock()
		nt.m[c.Options().Addr] = h
		nt.mu.Unlock()
		c.AddHook(h)
	}
	switch r := rdb.(type) {
	case *redis.ClusterClient:
		r.OnNewNode(add)
	case *redis.Client:
		add(r)
	}
	return nt
}

type nodeTrips struct {
	mu sync.Mutex
	m  map[string]*roundTrips
}

// snapshot returns the round trips per node so far.
func (nt *nodeTrips) snapshot() map[string]int64 {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	out := map[string]int64{}
	for a, h := range nt.m {
		out[a] = h.trips.Load()
	}
	return out
}

func counts(t *testing.T, c *viewcount.Counter, item string, days int) viewcount.Counts {
	t.Helper()
	s, err := c.Counts(context.Background(), item, days)
	if err != nil {
		t.Fatalf("Counts(%q): %v", item, err)
	}
	return s
}

func closeCounter(t *testing.T, c *viewcount.Counter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
