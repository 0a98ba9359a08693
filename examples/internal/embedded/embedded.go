// Package embedded runs an in-process Redis (miniredis) on a loopback port
// for the examples, and (through examples/cmd/embeddedredis, as a child
// process) for the root module's tests on machines without redis-server. Unlike a
// bare miniredis, keys expire in real time: miniredis only expires keys when
// its clock is moved, so Start moves it every few milliseconds.
package embedded

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// tick is how often the clock moves, and so how late a key may expire.
const tick = 10 * time.Millisecond

// Server is a running embedded Redis. Its methods are safe for concurrent
// use.
type Server struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start starts an embedded Redis on 127.0.0.1 and a random free port.
func Start() (*Server, error) { return StartAddr("127.0.0.1:0") }

// StartAddr starts an embedded Redis listening on addr ("host:port"; port 0
// picks a free one).
func StartAddr(addr string) (*Server, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, err
	}
	s := &Server{mr: mr, stop: make(chan struct{}), done: make(chan struct{})}
	go s.expire()
	return s, nil
}

// expire moves miniredis' clock with the wall clock until Close.
func (s *Server) expire() {
	defer close(s.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is the server's "host:port".
func (s *Server) Addr() string { return s.mr.Addr() }

// Close stops the server and its clock; it is idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.mr.Close()
	})
}
