package httpcache

import (
	"context"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/internal/lease"
)

// Cross-instance collapsing: the in-process leader of a fetch takes a lease
// on the entry's key (internal/lease) before it calls the handler, stores,
// and releases the lease. A leader of another instance that finds the lease
// taken waits for the holder's response (polling the lease, then the entry)
// instead of calling the handler, for at most Collapse.LeaseWait.

// passMarker is what a holder leaves in its lease when its response was not
// stored: waiters stop waiting and call the handler at once, and so do later
// misses until the marker expires (one LeaseTTL), instead of queueing behind
// a lease for a response they could never share.
const passMarker = "pass"

// CollapseOptions configures collapsing of concurrent misses across the
// instances (processes) sharing a Redis; see the package doc, Concurrency.
type CollapseOptions struct {
	// Disable leaves collapsing to each process: then N instances may call
	// the handler up to N times for one cold key. Default false: one
	// handler call in total.
	Disable bool
	// LeaseTTL is the longest an instance holds the lease on a key for its
	// handler call: if the holder dies, or its handler runs longer, another
	// instance takes over after it. Default 5s.
	LeaseTTL time.Duration
	// LeaseWait bounds how long a request waits for another instance's
	// handler call before it calls the handler itself (memo's
	// Options.LeaseWait, the same setting). Default LeaseTTL.
	LeaseWait time.Duration
}

const defaultLeaseTTL = 5 * time.Second

// leaseKey is the key of the lease on slot's entry, in the entry's cluster
// slot.
func (c *Cache) leaseKey(gen int64, slot string) string {
	return c.genPrefix(gen) + "lease:{" + slot + "}"
}

// leased reports whether a fetch for the request takes the lease: not when
// collapsing is off, nor when the request cannot use another instance's
// response anyway (its no-cache or max-age=0).
func (t *txn) leased() bool {
	return !t.c.opts.Collapse.Disable && !t.rd.noCache && !(t.rd.hasMaxAge && t.rd.maxAge == 0)
}

// fetchLeased is fetchOwn under the instance-wide lease on the key: it
// takes the lease and fetches, or waits for the holder's response and
// serves it (returning it as the shared entry), or fetches without the
// lease when it is marked pass, when the wait bound passes or when Redis
// fails (reported; the cache fails open).
func (t *txn) fetchLeased(stale *entry) *entry {
	if !t.leased() {
		return t.fetchOwn(stale)
	}
	c := t.c
	key := c.leaseKey(t.gen, t.slot)
	token, e, err := t.awaitLease(key, stale)
	switch {
	case e != nil:
		age := e.age(c.now())
		t.serveEntry(e, age, cacheStatus{fwd: fwdKind(stale), fwdStatus: e.status, collapsed: true,
			ttl: e.lifetime - age, hasTTL: true}, Result{Status: StatusCollapsed, Age: age})
		return e
	case err != nil && t.ctx.Err() != nil:
		return nil // the client is gone
	case err != nil:
		t.fail(err)
	}
	if token == "" {
		return t.fetchOwn(stale)
	}
	// A handler that panics (httputil.ReverseProxy does, with
	// http.ErrAbortHandler, when a body copy fails) must not leave the
	// lease to expire: the other instances' waiters would wait LeaseTTL.
	defer func() {
		if p := recover(); p != nil {
			t.releaseLease(key, token, passMarker)
			panic(p)
		}
	}()
	shared := t.fetchOwn(stale)
	marker := ""
	if shared == nil {
		marker = passMarker
	}
	t.releaseLease(key, token, marker)
	return shared
}

// awaitLease takes the lease at key, or waits for its holder: it returns
// the token when it took the lease, the entry (not owned) when the holder
// stored one this request may use, or neither (go without the lease).
func (t *txn) awaitLease(key string, stale *entry) (token string, e *entry, err error) {
	c := t.c
	if token, err = t.takeLease(key); token != "" || err != nil {
		return token, nil, err
	}
	// A key whose last response was not stored holds the pass marker:
	// go without waiting (Poll's first read comes only after a pause).
	if held, err := t.heldLease(key); err != nil || held == passMarker {
		return "", nil, err
	}
	c.stats.leaseWaits.Add(1)
	timedOut, err := lease.Poll(t.ctx, c.opts.Collapse.LeaseWait, func() (bool, error) {
		held, err := t.heldLease(key)
		if err != nil || held == passMarker {
			return true, err
		}
		if held != "" {
			return false, nil
		}
		// Free: the holder stored (before releasing) or gave up.
		found, err := t.find()
		if err != nil {
			return true, err
		}
		if found != nil && found.responseTime != respTimeOf(stale) && t.canShare(found, found.age(c.now())) {
			found.share()
			e = found
			return true, nil
		}
		token, err = t.takeLease(key)
		return token != "", err
	})
	if timedOut {
		c.stats.leaseTimeouts.Add(1)
	}
	return token, e, err
}

func (t *txn) takeLease(key string) (string, error) {
	rctx, cancel := t.c.callCtx(t.ctx)
	defer cancel()
	token, err := lease.Take(rctx, t.c.c.Redis(), key, t.c.opts.Collapse.LeaseTTL)
	if err != nil {
		return "", fmt.Errorf("httpcache: lease %s: %w", entryName(t.gen, t.slot), err)
	}
	return token, nil
}

func (t *txn) heldLease(key string) (string, error) {
	rctx, cancel := t.c.callCtx(t.ctx)
	defer cancel()
	held, err := lease.Held(rctx, t.c.c.Redis(), key)
	if err != nil {
		return "", fmt.Errorf("httpcache: lease %s: %w", entryName(t.gen, t.slot), err)
	}
	return held, nil
}

// releaseLease gives the lease up, leaving marker when not empty; a failure
// is reported (the lease then expires after LeaseTTL).
func (t *txn) releaseLease(key, token, marker string) {
	rctx, cancel := t.c.callCtx(context.WithoutCancel(t.ctx))
	defer cancel()
	if _, err := lease.Release(rctx, t.c.c.Redis(), key, token, marker, t.c.opts.Collapse.LeaseTTL); err != nil {
		t.fail(fmt.Errorf("httpcache: release lease %s: %w", entryName(t.gen, t.slot), err))
	}
}

// takeBackgroundLease takes the lease for a background revalidation without
// waiting: false when another instance holds it (it is revalidating).
// Without collapsing, or when Redis fails (reported), it goes on without
// a token.
func (t *txn) takeBackgroundLease(key string) (string, bool) {
	if t.c.opts.Collapse.Disable {
		return "", true
	}
	token, err := t.takeLease(key)
	if err != nil {
		t.fail(err)
		return "", true // fail open: revalidate without the lease
	}
	return token, token != ""
}
