package httpcache

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Serve answers r from the cache or from next, storing what RFC 9111 lets a
// shared cache store. Requests with unsafe methods go to next and, when they
// succeed, invalidate the URLs they touched. Serve is the cache's whole
// middleware: adapters only decide which requests skip it.
//
// Serve first attaches the client's request budget (core.Client.WithBudget)
// to r's context, unless it carries one, and hands next the request with
// that context: every Redis call of the request, the cache's and those of
// other rediskit features next makes, shares the budget.
//
// A stale-while-revalidate revalidation runs next after Serve returned, so
// next must not depend on per-request state that is gone by then. A next
// bound to such state (a framework's request context) implements
//
//	Detach() http.Handler
//
// Serve calls Detach while the request is still being served, only when it
// starts a background revalidation, and runs the handler Detach returns
// instead of next. The revalidation is bounded by RevalidateTimeout, not by
// the request's budget, which the client no longer waits on.
//
// Serve itself never panics; a panic of next propagates to the caller.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ctx := c.c.WithBudget(r.Context())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		next.ServeHTTP(w, withContext(r, ctx))
		return
	default:
		c.serveUnsafe(w, withContext(r, ctx), next)
		return
	}
	// The request itself is copied with ctx only when next runs: a hit
	// needs no copy. A txn lives for this call only (a background
	// revalidation gets its own): it is recycled.
	t := txnPool.Get().(*txn)
	*t = txn{c: c, w: w, r: r, ctx: ctx, next: next}
	defer func() {
		*t = txn{}
		txnPool.Put(t)
	}()
	t.run()
}

var txnPool = sync.Pool{New: func() any { return new(txn) }}

// withContext returns r with ctx, without a copy when it already has it.
func withContext(r *http.Request, ctx context.Context) *http.Request {
	if ctx == r.Context() {
		return r
	}
	return r.WithContext(ctx)
}

// detacher is a next handler bound to per-request state (see Serve).
type detacher interface {
	Detach() http.Handler
}

// txn is one GET or HEAD request going through the cache.
type txn struct {
	c    *Cache
	w    http.ResponseWriter // nil for a background revalidation
	r    *http.Request
	ctx  context.Context // r's context with the request budget: every Redis call and next use it
	next http.Handler
	rd   requestDirectives
	host string // keyed host
	key  string // URL key (for Cache-Status with ExposeKey)
	slot string
	ekey string // entry key (entryKey of gen and slot)
	gen  int64
	mark uint64 // c.flight.mark() before the lookup
}

// how an entry can be used for a request
const (
	useFresh = iota
	useStaleOK
	useSWR
	useValidate
)

func (t *txn) run() {
	c, r := t.c, t.r
	if bypassed(r) {
		t.pass(cacheStatus{fwd: "bypass"}, Result{Status: StatusBypass})
		return
	}
	scheme := requestScheme(r)
	host, ok := c.keyHost(r.Host, scheme)
	if !ok {
		t.pass(cacheStatus{fwd: "bypass", detail: "host"}, Result{Status: StatusBypass, Reason: "host"})
		return
	}
	t.host = host
	t.rd = parseRequestDirectives(r.Header)
	scheme = c.keyScheme(scheme)
	gen, err := c.generation(t.ctx)
	var e *entry
	if err == nil {
		t.gen = gen
		t.ekey, t.key, t.slot = c.requestKeys(gen, scheme, host, r.URL)
		t.mark = c.flight.mark()
		e, err = t.find()
	} else {
		t.key = c.urlKey(scheme, host, r.URL)
		t.slot = c.slotID(t.key)
	}
	if err != nil {
		c.requestError(r, err)
		t.pass(cacheStatus{fwd: "miss", detail: reasonRedis}, Result{Status: StatusError, Reason: reasonRedis})
		return
	}
	if e == nil {
		t.miss()
		return
	}
	t.useEntry(e)
}

// find looks up the entry for the request; entries a request with
// Authorization may not get (§3.5) are not found.
func (t *txn) find() (*entry, error) {
	e, err := t.c.lookup(t.ctx, t.ekey, t.gen, t.slot, t.r)
	if e != nil && t.r.Header.Get("Authorization") != "" && e.flags&flagAuthOK == 0 {
		e = nil
	}
	return e, err
}

func (t *txn) useEntry(e *entry) {
	age := e.age(t.c.now())
	ttl := e.lifetime - age
	switch t.use(e, age) {
	case useFresh, useStaleOK:
		t.serveEntry(e, age, cacheStatus{hit: true, ttl: ttl, hasTTL: true, detail: freshDetail(e)}, Result{Status: StatusHit, Age: age})
	case useSWR:
		t.serveEntry(e, age, cacheStatus{hit: true, ttl: ttl, hasTTL: true, detail: "stale-while-revalidate"},
			Result{Status: StatusStale, Reason: "stale-while-revalidate", Age: age})
		t.revalidateInBackground(e)
	default:
		if t.rd.onlyIfCached {
			t.gatewayTimeout()
			return
		}
		t.fetch(e)
	}
}

// use decides how entry e, of current age age, may satisfy the request
// (RFC 9111 §4.2, §5.2.1, §5.2.2 and RFC 5861).
func (t *txn) use(e *entry, age time.Duration) int {
	rd := t.rd
	if e.flags&flagNoCache != 0 || rd.noCache {
		return useValidate
	}
	if rd.hasMaxAge && (age > rd.maxAge || rd.maxAge == 0) {
		return useValidate
	}
	if rd.hasMinFresh && e.lifetime-age < rd.minFresh {
		return useValidate
	}
	if e.lifetime > age {
		return useFresh
	}
	stale := age - e.lifetime
	if e.flags&flagMustRevalidate != 0 {
		return useValidate
	}
	if rd.hasMaxStale && (rd.maxStale < 0 || stale <= rd.maxStale) {
		return useStaleOK
	}
	if stale < e.swr {
		return useSWR
	}
	return useValidate
}

// bypassed reports requests the cache neither answers nor stores: protocol
// upgrades and preconditions other than If-None-Match, If-Modified-Since
// and If-Range (ranges.go).
func bypassed(r *http.Request) bool {
	h := r.Header
	return len(h["Upgrade"]) > 0 || len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
}

func (t *txn) miss() {
	if t.rd.onlyIfCached {
		t.gatewayTimeout()
		return
	}
	if t.r.Method == http.MethodHead {
		// A HEAD response has no body to store: forward it as is.
		t.pass(cacheStatus{fwd: "miss"}, Result{Status: StatusMiss, Reason: "head"})
		return
	}
	t.fetch(nil)
}

func (t *txn) gatewayTimeout() {
	h := t.w.Header()
	t.setCacheStatus(h, cacheStatus{fwd: "miss", detail: "only-if-cached"})
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	t.w.WriteHeader(http.StatusGatewayTimeout)
	_, _ = t.w.Write([]byte("only-if-cached: no stored response\n"))
	t.c.result(t.r, Result{Status: StatusGatewayTO})
}

// pass forwards the request to the handler and its response to the client
// untouched, with a Cache-Status member.
func (t *txn) pass(cs cacheStatus, res Result) {
	cp := newCapture(t.w, 0)
	cp.decide = func(int, http.Header) int { return modePass }
	cp.release = func(status int, h http.Header) {
		cs.fwdStatus = status
		t.sendHeader(status, h, cs)
	}
	t.next.ServeHTTP(cp, withContext(t.r, t.ctx))
	cp.finish()
	t.c.result(t.r, res)
}

// sendHeader copies a handler's header to the client with this cache's
// Cache-Status member, and writes the status.
func (t *txn) sendHeader(status int, h http.Header, cs cacheStatus) {
	out := t.w.Header()
	for k, v := range h {
		if t.c.hidden(k) {
			continue
		}
		out[k] = v
	}
	t.setCacheStatus(out, cs)
	t.w.WriteHeader(status)
}

// setCacheStatus adds this cache's Cache-Status member, with the request's
// key when Options.CacheStatus.ExposeKey is set and the request was keyed.
func (t *txn) setCacheStatus(h http.Header, cs cacheStatus) {
	cs.key = t.key
	t.c.setCacheStatus(h, cs)
}
