package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// setup starts a dedicated redis-server behind a proxy and returns a client
// through the proxy that neither retries nor ignores context deadlines, plus
// a direct client.
func setup(t *testing.T) (p *faultproxy.Proxy, viaProxy, direct *redis.Client) {
	t.Helper()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	p = faultproxy.New(t, srv.Addr())
	viaProxy = redis.NewClient(&redis.Options{
		Addr:                  p.Addr(),
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
	})
	t.Cleanup(func() { viaProxy.Close() })
	if err := viaProxy.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING through proxy: %v", err)
	}
	return p, viaProxy, srv.Client(t, nil)
}

func TestModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(p *faultproxy.Proxy)
		check func(t *testing.T, rdb *redis.Client)
	}{
		{"Cut", (*faultproxy.Proxy).Cut, func(t *testing.T, rdb *redis.Client) {
			start := time.Now()
			if err := rdb.Ping(context.Background()).Err(); err == nil {
				t.Fatal("PING: got no error, want one")
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("PING failed after %v, want < 1s", d)
			}
		}},
		{"Blackhole", (*faultproxy.Proxy).Blackhole, func(t *testing.T, rdb *redis.Client) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := rdb.Ping(ctx).Err()
			var ne net.Error
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("PING: got %v, want a timeout", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("PING timed out after %v, want about 200ms", d)
			}
		}},
		{"Delay", func(p *faultproxy.Proxy) { p.Delay(100 * time.Millisecond) }, func(t *testing.T, rdb *redis.Client) {
			start := time.Now()
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				t.Fatalf("PING: %v", err)
			}
			if d := time.Since(start); d < 100*time.Millisecond {
				t.Fatalf("PING took %v, want >= 100ms", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, rdb, _ := setup(t)
			tt.fault(p)
			tt.check(t, rdb)
			p.Restore()
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				t.Fatalf("PING after Restore: %v", err)
			}
		})
	}
}

func TestResetNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, rdb, direct := setup(t)
	p.ResetNext()
	if err := rdb.Incr(ctx, "counter").Err(); err == nil {
		t.Fatal("INCR: got no error, want the connection reset")
	}
	if n, err := direct.Get(ctx, "counter").Int(); err != nil && !errors.Is(err, redis.Nil) || n > 1 {
		t.Fatalf("counter: got %d, %v, want at most 1", n, err)
	}
	if err := rdb.Incr(ctx, "counter").Err(); err != nil {
		t.Fatalf("INCR after the one-shot reset: %v", err)
	}
}

func TestConnsAndCut(t *testing.T) {
	t.Parallel()
	p, _, _ := setup(t)
	if got := p.Conns(); got != 1 {
		t.Fatalf("Conns after one PING: got %d, want 1", got)
	}
	p.Cut()
	if got := p.Conns(); got != 0 {
		t.Fatalf("Conns after Cut: got %d, want 0", got)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on a connection accepted while cut: got %v, want EOF", err)
	}
}

// TestNoGoroutineLeak drives every mode over raw connections to an echo
// server, then checks Close leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	defer expectNoNewGoroutines(t, goroutines())
	echo, stopEcho := echoServer(t)
	defer stopEcho()
	p := faultproxy.New(t, echo)

	roundTrip := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, 2))
		return err
	}
	var conns []net.Conn
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	if err := roundTrip(dial()); err != nil {
		t.Fatalf("plain round trip: %v", err)
	}
	p.Delay(10 * time.Millisecond)
	if err := roundTrip(dial()); err != nil {
		t.Fatalf("delayed round trip: %v", err)
	}
	p.Blackhole()
	_, _ = dial().Write([]byte("held")) // stays pending in the proxy
	p.ResetNext()
	dial()
	p.Close()
	for _, c := range conns {
		c.Close()
	}
}

// echoServer echoes on 127.0.0.1 until stop, which waits for its goroutines.
func echoServer(t *testing.T) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c) })
		}
	})
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// goroutines returns the stack of every goroutine, by goroutine id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	all := map[string]string{}
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		header, _, _ := strings.Cut(string(g), "\n")
		if id, ok := strings.CutPrefix(header, "goroutine "); ok {
			id, _, _ = strings.Cut(id, " ")
			all[id] = string(g)
		}
	}
	return all
}

// expectNoNewGoroutines fails t if, within 5 s, goroutines other than the
// calling one and those in before (by id) are still running: the leak check,
// without a dependency on goleak.
func expectNoNewGoroutines(t *testing.T, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var leaked []string
		for id, stack := range goroutines() {
			if _, old := before[id]; !old && !strings.Contains(stack, "expectNoNewGoroutines") {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutine(s) still running 5s after Close:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
