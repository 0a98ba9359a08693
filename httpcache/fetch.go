package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rediskit/rediskit/internal/budget"
)

// fetch calls the handler for a miss (stale == nil) or to validate stale,
// collapsing concurrent calls for the same key in this process: followers
// reuse the leader's response when it is shareable, matches their variant
// and is usable for them without validation; otherwise they call the
// handler themselves.
func (t *txn) fetch(stale *entry) {
	fkey := t.slot
	cl, leader, finished := t.c.flight.join(fkey, t.mark)
	if !leader {
		select {
		case <-cl.done:
			if e := cl.e; e != nil && t.canShare(e, e.age(t.c.now())) {
				age := e.age(t.c.now())
				t.serveEntry(e, age, cacheStatus{fwd: fwdKind(stale), fwdStatus: e.status, collapsed: true,
					ttl: e.lifetime - age, hasTTL: true}, Result{Status: StatusCollapsed, Age: age})
				return
			}
		case <-t.r.Context().Done():
			return
		}
		t.fetchOwn(stale)
		return
	}
	var shared *entry
	defer func() { t.c.flight.leave(fkey, cl, shared) }()
	// A leader for this key that finished since our lookup began may have
	// stored its response (it stores before it leaves): only then look
	// again, so a plain cold miss costs one lookup.
	if finished {
		if e, err := t.find(); err == nil && e != nil && e.responseTime != respTimeOf(stale) {
			if u := t.use(e, e.age(t.c.now())); u == useFresh || u == useStaleOK {
				e.share()
				shared = e
				t.useEntry(e)
				return
			}
			stale = e
		}
	}
	shared = t.fetchLeased(stale)
}

func respTimeOf(e *entry) int64 {
	if e == nil {
		return 0
	}
	return e.responseTime
}

// canShare reports whether a response fetched for another request may
// answer this one, of current age age: §3.5, same variant, and usable
// without validation (fresh, or stale within the request's max-stale) as a
// stored response would be (no-cache, zero lifetime and the request's
// directives apply).
func (t *txn) canShare(e *entry, age time.Duration) bool {
	if t.r.Header.Get("Authorization") != "" && e.flags&flagAuthOK == 0 {
		return false
	}
	if e.vary != "" && variantID(e.vary, t.r.Header) != e.variant {
		return false
	}
	u := t.use(e, age)
	return u == useFresh || u == useStaleOK
}

func fwdKind(stale *entry) string {
	if stale != nil {
		return "stale"
	}
	return "miss"
}

// conditional request header fields a client may send; the cache answers
// them itself, so they never reach the handler on a storing path.
var clientConditionals = []string{"If-None-Match", "If-Modified-Since"}

// originRequest is the request the handler sees on a storing path: unkeyed
// headers stripped, host and query as keyed, and the validators of stale.
func (t *txn) originRequest(ctx context.Context, stale *entry) *http.Request {
	c := t.c
	or := t.r.Clone(ctx)
	for _, h := range c.strip {
		or.Header.Del(h)
	}
	for _, h := range clientConditionals {
		or.Header.Del(h)
	}
	if normalizeHost(or.Host, requestScheme(or)) != t.host {
		or.Host = t.host
		or.URL.Host = ""
	}
	if len(c.ignore) > 0 && or.URL.RawQuery != "" {
		or.URL.RawQuery = c.filterQuery(or.URL.RawQuery, false) // the client's order, ignored names dropped
		or.RequestURI = or.URL.RequestURI()
	}
	c.addSurrogateCapability(or.Header)
	if stale != nil {
		or.Method = http.MethodGet
		if v := stale.fields().Get("ETag"); v != "" {
			or.Header.Set("If-None-Match", v)
		}
		if v := stale.fields().Get("Last-Modified"); v != "" {
			or.Header.Set("If-Modified-Since", v)
		}
	}
	return or
}

// fetchOwn calls the handler and answers the client, returning the entry
// other requests may share (nil when there is none). With an Observer it
// is one "fetch" span (the handler gets its ctx), ended with an error when
// the handler answered 5xx.
func (t *txn) fetchOwn(stale *entry) *entry {
	c := t.c
	ctx := t.ctx
	cp := newCapture(t.w, c.opts.Storage.MaxBodyBytes)
	if c.obs != nil {
		var end func(error)
		ctx, end = c.obs.Start(ctx, "httpcache", "fetch")
		defer func() {
			var err error
			if cp.status >= 500 {
				err = fmt.Errorf("httpcache: handler answered %d", cp.status)
			}
			end(err)
		}()
	}
	or := t.originRequest(ctx, stale)
	reqTime := c.now()
	var pol policy
	cp.decide = func(status int, h http.Header) int {
		if stale != nil && (status == http.StatusNotModified || (status >= 500 && t.staleIfError(stale))) {
			return modeDiscard
		}
		if stale != nil && cp.unreachable && t.staleIfUnreachable(stale) {
			return modeDiscard
		}
		pol = c.policyFor(or, t.rd, status, h, c.now())
		if pol.reason == "" && contentLength(h) > int64(c.opts.Storage.MaxBodyBytes) {
			pol.reason = reasonTooLarge
		}
		if pol.reason != "" {
			return modePass
		}
		return modeHold
	}
	cp.release = func(status int, h http.Header) {
		t.sendHeader(status, h, cacheStatus{fwd: fwdKind(stale), fwdStatus: status, detail: pol.reason})
	}
	t.next.ServeHTTP(cp, or)
	cp.finish()
	respTime := c.now()
	switch {
	case cp.mode == modeDiscard && cp.status == http.StatusNotModified:
		return t.revalidated(stale, cp.header, or, reqTime, respTime)
	case cp.mode == modeDiscard:
		t.serveStaleOnError(stale, cp.status, cp.unreachable)
		return nil
	case pol.reason == "" && !cp.fits:
		pol.reason = reasonTooLarge
	}
	if pol.reason != "" {
		t.report(Result{Status: StatusMiss, Reason: pol.reason})
		return nil
	}
	e := c.newEntry(cp.status, cp.header, string(cp.body), pol, reqTime, respTime)
	e.variant = variantID(e.vary, or.Header)
	stored := t.store(e, or.Header, cp.header)
	if !cp.released {
		t.serveFetched(e, cp.header, stale, stored)
	}
	t.report(Result{Status: StatusMiss, Stored: stored, Reason: storeReason(stored)})
	return e
}

func storeReason(stored bool) string {
	if stored {
		return ""
	}
	return reasonRedis
}

// report records a result for client requests (background revalidations
// only count).
func (t *txn) report(res Result) {
	if t.w == nil {
		if res.Stored {
			t.c.stats.stored.Add(1)
		}
		return
	}
	t.c.result(t.r, res)
}

// store writes e (with the tags of the handler's header h) and reports
// whether it was stored.
func (t *txn) store(e *entry, reqH, h http.Header) bool {
	ctx := t.ctx
	if t.c.ttlFor(e) < time.Millisecond {
		return false
	}
	if err := t.c.put(ctx, t.gen, t.slot, e, reqH, parseTags(h[t.c.opts.Storage.TagHeader])); err != nil {
		t.fail(err)
		return false
	}
	return true
}

// staleIfError reports whether stale may replace an error response
// (RFC 5861 §4), from the response's or the request's stale-if-error.
func (t *txn) staleIfError(stale *entry) bool {
	if stale.flags&flagMustRevalidate != 0 {
		return false
	}
	window := stale.sie
	if t.rd.hasStaleIfError {
		window = max(window, min(t.rd.staleIfError, t.c.opts.Storage.MaxStaleIfError))
	}
	over := stale.age(t.c.now()) - stale.lifetime
	return over < window
}

func contentLength(h http.Header) int64 {
	v := h.Get("Content-Length")
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// fail reports a Redis or storage error of the request (of the request that
// started it, for a background revalidation).
func (t *txn) fail(err error) {
	if t.w == nil {
		t.c.reportError(t.r.Context(), err)
		return
	}
	t.c.requestError(t.r, err)
}

// revalidateInBackground refreshes e with a conditional request to the
// handler (or the one its Detach returns) after the client was answered, one
// at a time per key in this process and, under the lease taken without
// waiting, among the instances. It runs under RevalidateTimeout with the
// request's context values but neither its cancellation nor its request
// budget: the client waits on none of it.
func (t *txn) revalidateInBackground(e *entry) {
	c := t.c
	key := t.slot + "\x00" + e.variant
	cl, leader, _ := c.bg.join(key, 0)
	if !leader {
		return
	}
	bg := t.next
	if d, ok := bg.(detacher); ok {
		bg = d.Detach()
	}
	ctx, cancel := context.WithTimeout(budget.Without(context.WithoutCancel(t.r.Context())), c.opts.RevalidateTimeout)
	bt := &txn{c: c, r: t.r.Clone(ctx), ctx: ctx, next: bg, host: t.host, key: t.key, slot: t.slot, ekey: t.ekey, gen: t.gen}
	go func() {
		defer cancel()
		defer c.bg.leave(key, cl, nil)
		defer func() {
			if p := recover(); p != nil {
				c.reportError(ctx, fmt.Errorf("httpcache: background revalidation panicked: %v", p))
			}
		}()
		lk := c.leaseKey(bt.gen, bt.slot)
		token, ok := bt.takeBackgroundLease(lk)
		if !ok {
			return // another instance is revalidating
		}
		if token != "" {
			defer bt.releaseLease(lk, token, "") // a panicking handler included
		}
		bt.fetchOwn(e)
	}()
}
