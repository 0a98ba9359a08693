package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestFaults puts a fault-injecting proxy between the client and a dedicated
// server: every fault is a returned error within the caller's deadline,
// never a panic or a hang, and the client recovers when the fault ends.
func TestFaults(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	tests := []struct {
		name   string
		inject func(p *faultproxy.Proxy)
	}{
		{"cut", func(p *faultproxy.Proxy) { p.Cut() }},
		{"blackhole", func(p *faultproxy.Proxy) { p.Blackhole() }},
		{"slow", func(p *faultproxy.Proxy) { p.Delay(500 * time.Millisecond) }},
		{"reset mid-command", func(p *faultproxy.Proxy) { p.ResetNext() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := faultproxy.New(t, srv.Addr())
			c, err := core.New(core.Config{URL: "redis://" + proxy.Addr(), MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			key := core.MakeKey(redistest.Prefix(t), "counter")
			ctx := context.Background()
			if _, err := c.Increment(ctx, key, 1); err != nil {
				t.Fatalf("before the fault: %v", err)
			}
			tt.inject(proxy)
			cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			start := time.Now()
			_, err = c.Increment(cctx, key, 1)
			elapsed := time.Since(start)
			cancel()
			if err == nil {
				t.Fatal("during the fault: got nil error, want one")
			}
			if elapsed > time.Second {
				t.Errorf("during the fault: took %v, want it bounded by the 200ms deadline", elapsed)
			}
			proxy.Restore()
			deadline := time.Now().Add(3 * time.Second)
			var n int64
			for {
				if n, err = c.Increment(ctx, key, 1); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("after restore: %v", err)
			}
			// With retries off, the failed increment was applied at most once.
			if n < 2 || n > 3 {
				t.Errorf("counter after restore: got %d, want 2 or 3", n)
			}
		})
	}
}

// TestServerStopped checks the errors a stopped server gives, and recovery
// after a restart.
func TestServerStopped(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c, err := core.New(core.Config{URL: "redis://" + srv.Addr(), DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	key := core.MakeKey(redistest.Prefix(t), "k")
	must(t, c.Set(ctx, key, "v", 0))
	srv.Stop()
	var s string
	_, err = c.Get(ctx, key, &s)
	if err == nil {
		t.Fatal("Get with the server stopped: got nil error, want one")
	}
	if errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get with the server stopped: got %v, want a connection error, not ErrNotFound", err)
	}
	srv.Restart()
	if err := c.Set(ctx, key, "v2", 0); err != nil {
		t.Errorf("Set after restart: %v", err)
	}
}
