package httpcache

import "sync"

// flight collapses concurrent origin fetches for one key: the first caller
// (the leader) fetches in the goroutine that joined (the request's; for a
// background revalidation, the one it started) and publishes the shareable
// entry, or nil; the others wait for it or for their own context.
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done    chan struct{}
	e       *entry // nil: nothing shareable (not storable, error); never owned
	waiters int    // followers that joined (under flight.mu)
}

// join returns the call in flight for key, and whether the caller leads it.
func (f *flight) join(key string) (*call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		c.waiters++
		return c, false
	}
	if f.calls == nil {
		f.calls = map[string]*call{}
	}
	c := &call{done: make(chan struct{})}
	f.calls[key] = c
	return c, true
}

// leave publishes the leader's result and wakes the waiters.
func (f *flight) leave(key string, c *call, e *entry) {
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	c.e = e
	close(c.done)
}
