// Package faultproxy is a TCP proxy on 127.0.0.1 that sits between a client
// and a server (typically go-redis and redis-server) and injects network
// faults on demand: cut connections, a black hole, added latency, and a reset
// in the middle of a command.
//
// A Proxy is safe for concurrent use. Modes apply to new and, where possible,
// to existing connections; Restore returns to plain forwarding.
package faultproxy

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

type mode int

const (
	forward   mode = iota
	cut            // connections are closed on arrival
	blackhole      // connections are held, nothing is forwarded
)

// Proxy forwards TCP connections from Addr to an upstream address.
type Proxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup // accept loop and every connection goroutine

	mu        sync.Mutex
	mode      mode
	delay     time.Duration
	resetNext bool
	changed   chan struct{} // closed and replaced whenever the mode changes
	conns     map[*conn]struct{}
	closed    bool
}

// New starts a proxy listening on 127.0.0.1:0 that forwards to upstream. It
// is closed at t.Cleanup.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{
		ln:       ln,
		upstream: upstream,
		changed:  make(chan struct{}),
		conns:    make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the "127.0.0.1:port" clients should dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening, closes every connection and waits until all the
// proxy's goroutines have returned. It is safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.ln.Close()
		p.closeAllLocked()
		p.notifyLocked()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Cut closes all current connections and, until Restore, closes new ones as
// soon as they are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = cut
	p.closeAllLocked()
	p.notifyLocked()
}

// Blackhole keeps current and new connections open but forwards nothing in
// either direction until Restore; data read meanwhile is held, not dropped.
func (p *Proxy) Blackhole() { p.setMode(blackhole) }

// Delay adds latency d before each forwarded chunk, in both directions, on
// current and new connections. Delay(0) removes it.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// ResetNext arms a one-shot fault: the next chunk any connection sends
// client->server is forwarded, then that connection is reset (RST to the
// client, close upstream) before any reply comes back: a reset mid-command.
func (p *Proxy) ResetNext() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetNext = true
}

// Restore returns to plain forwarding: it ends Cut and Blackhole (held data
// flows on), removes any Delay and disarms ResetNext.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = 0
	p.resetNext = false
	p.mode = forward
	p.notifyLocked()
}

// Conns returns the number of connections currently open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) setMode(m mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.notifyLocked()
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		c.close(false)
		delete(p.conns, c)
	}
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		if p.closed || p.mode == cut {
			p.mu.Unlock()
			client.Close()
			continue
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(client)
	}
}

// serve dials upstream and pumps both directions until either side ends.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	c := &conn{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.mode == cut {
		p.mu.Unlock()
		c.close(false)
		return
	}
	p.conns[c] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go p.pump(c, client, server, true)
	go p.pump(c, server, client, false)
}

// conn is one proxied connection: the accepted client side and its upstream.
type conn struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{} // closed by close
	resetting      bool          // guarded by Proxy.mu: drop all further data
}

// close closes both sides; with reset, the client side gets an RST.
func (c *conn) close(reset bool) {
	c.once.Do(func() {
		if tc, ok := c.client.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		c.client.Close()
		c.server.Close()
		close(c.done)
	})
}

// pump copies src to dst chunk by chunk, applying the proxy's faults.
// toServer marks the client->server direction.
func (p *Proxy) pump(c *conn, src, dst net.Conn, toServer bool) {
	defer p.wg.Done()
	defer p.drop(c, false)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay, reset, ok := p.gate(c, toServer)
			if !ok || !sleep(c, delay) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if reset {
				p.drop(c, true)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// gate blocks while the proxy is black-holed and returns the delay to apply
// and whether this chunk is the one to reset after. ok is false when the
// connection is closed or being reset.
func (p *Proxy) gate(c *conn, toServer bool) (delay time.Duration, reset, ok bool) {
	for {
		p.mu.Lock()
		if _, live := p.conns[c]; !live || c.resetting {
			p.mu.Unlock()
			return 0, false, false
		}
		if p.mode != blackhole {
			delay = p.delay
			if toServer && p.resetNext {
				p.resetNext = false
				c.resetting = true // the reply must not reach the client
				reset = true
			}
			p.mu.Unlock()
			return delay, reset, true
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
			return 0, false, false
		}
	}
}

// drop removes c from the proxy and closes it.
func (p *Proxy) drop(c *conn, reset bool) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.close(reset)
}

// sleep waits d, or returns false early when c is closed.
func sleep(c *conn, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}
