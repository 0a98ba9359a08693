package httpcache

import "sync"

// flight collapses concurrent origin fetches for one key: the first caller
// (the leader) fetches in the goroutine that joined (the request's; for a
// background revalidation, the one it started) and publishes the shareable
// entry, or nil; the others wait for it or for their own context.
//
// It also tells a new leader whether a call for its key may have finished
// (and stored) since the leader's own lookup began: mark before the lookup,
// then finishedSince after join (see marks: a false yes costs one needless
// lookup).
type flight struct {
	mu       sync.Mutex
	calls    map[string]*flightCall
	finished marks // calls finished (under mu)
}

type flightCall struct {
	done    chan struct{}
	e       *entry // nil: nothing shareable (not storable, error); never owned
	waiters int    // followers that joined (under flight.mu)
}

// mark returns the count of finished calls, for finishedSince.
func (f *flight) mark() uint64 { return f.finished.mark() }

// join returns the call in flight for key, and whether the caller leads it.
// A leader also learns whether a call for key finished after mark returned m.
func (f *flight) join(key string, m uint64) (c *flightCall, leader, finishedSince bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		c.waiters++
		return c, false, false
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c = &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	return c, true, f.finished.since(key, m)
}

// leave publishes the leader's result and wakes the waiters. The leader
// stores its response before it leaves.
func (f *flight) leave(key string, c *flightCall, e *entry) {
	f.mu.Lock()
	delete(f.calls, key)
	f.finished.record(key)
	f.mu.Unlock()
	c.e = e
	close(c.done)
}
