package httpcache

import (
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// newEntry builds the entry for a handler response received at respTime
// for a request sent at reqTime, with its corrected initial age (§4.2.3).
func (c *Cache) newEntry(status int, h http.Header, body string, pol policy, reqTime, respTime time.Time) *entry {
	sh := c.storedHeader(h)
	date := respTime
	if len(sh["Date"]) == 0 {
		sh["Date"] = []string{respTime.UTC().Format(http.TimeFormat)}
	} else if d, err := http.ParseTime(sh.Get("Date")); err == nil {
		date = d
	}
	ageValue := parseAge(h["Age"])
	apparent := max(respTime.Sub(date), 0)
	corrected := ageValue + max(respTime.Sub(reqTime), 0)
	return &entry{status: status, flags: pol.flags, responseTime: respTime.UnixNano(),
		initialAge: max(apparent, corrected), lifetime: pol.lifetime, swr: pol.swr, sie: pol.sie,
		vary: normalizeVary(sh), header: sh, body: body}
}

// parseAge reads an Age field as the public HTTP caching test suite expects
// of a strict parser: its lines joined with ", " must form a list of bare
// delta-seconds with no whitespace, and the first one counts ("0,7200" is 0).
// Anything else (several lines, spaces, a sign, a fraction, parameters) makes
// the response stale, as if infinitely old.
func parseAge(lines []string) time.Duration {
	if len(lines) == 0 {
		return 0
	}
	v := strings.TrimSpace(strings.Join(lines, ", "))
	var n int64
	for i, elem := range strings.Split(v, ",") {
		d, ok := parseDelta(elem)
		if !ok {
			return maxDelta * time.Second
		}
		if i == 0 {
			n = d
		}
	}
	return time.Duration(n) * time.Second
}

// notUpdated are the fields a 304 never changes in a stored response
// (RFC 9111 §3.2), with the hop-by-hop ones.
var notUpdated = map[string]bool{"Content-Length": true, "Content-Encoding": true, "Content-Range": true,
	"Content-Md5": true, "Etag": true, "Set-Cookie": true}

// revalidated handles a 304 to a conditional request for stale: it updates
// the stored header fields (§4.3.4), stores and serves the result.
func (t *txn) revalidated(stale *entry, h304 http.Header, or *http.Request, reqTime, respTime time.Time) *entry {
	c := t.c
	merged := make(http.Header, len(stale.fields())+len(h304))
	maps.Copy(merged, stale.fields())
	delete(merged, "Date")
	listed := connectionListed(h304)
	for k, v := range h304 {
		if !notUpdated[k] && !hopByHop[k] && !listed[k] || k == "Age" {
			merged[k] = v
		}
	}
	pol := c.policyFor(or, t.rd, stale.status, merged, respTime)
	e := c.newEntry(stale.status, merged, stale.body, pol, reqTime, respTime)
	e.variant = stale.variant
	stored := pol.reason == "" && t.store(e, or.Header, merged)
	age := e.age(c.now())
	t.serveEntry(e, age, cacheStatus{fwd: "stale", fwdStatus: http.StatusNotModified, stored: stored,
		ttl: e.lifetime - age, hasTTL: true, detail: freshDetail(e)}, Result{Status: StatusRevalidated, Stored: stored, Reason: pol.reason, Age: age})
	if pol.reason != "" {
		return nil
	}
	return e
}

// serveStaleOnError answers with stale instead of the handler's error
// response (status), which stood for an unreachable origin or was allowed
// by stale-if-error.
func (t *txn) serveStaleOnError(stale *entry, status int, unreachable bool) {
	age := stale.age(t.c.now())
	why := "stale-if-error"
	if unreachable && !(status >= 500 && t.staleIfError(stale)) {
		why = reasonUnreachable
	}
	t.serveEntry(stale, age, cacheStatus{fwd: "stale", fwdStatus: status, ttl: stale.lifetime - age, hasTTL: true,
		detail: why}, Result{Status: StatusStale, Reason: why, Age: age})
}

// serveEntry answers the client from a stored entry, with Age.
func (t *txn) serveEntry(e *entry, age time.Duration, cs cacheStatus, res Result) {
	if t.w == nil {
		t.report(res)
		return
	}
	h := t.w.Header()
	switch {
	case e.owned && e.header == nil:
		// Decoded for this request: its fields go straight into h.
		vals := e.spare
		e.spare = nil
		if vals == nil {
			vals = make([]string, 0, e.nVals)
		}
		e.addFields(h, vals, t.c)
	case e.owned:
		for k, v := range e.header {
			if !t.c.hidden(k) {
				h[k] = v // capacity-limited slices of this request's own decode
			}
		}
	default:
		hdr := e.fields()
		n := 0
		for _, v := range hdr {
			n += len(v)
		}
		vals := make([]string, 0, n) // shared entries: copy, in one allocation
		for k, v := range hdr {
			if t.c.hidden(k) {
				continue
			}
			i := len(vals)
			vals = append(vals, v...)
			h[k] = vals[i:len(vals):len(vals)]
		}
	}
	t.writeAged(e, cs, max(age, 0))
	t.report(res)
}

// serveFetched answers the client with a response the handler just gave
// (its own header, Set-Cookie included), held until it was stored.
func (t *txn) serveFetched(e *entry, h http.Header, stale *entry, stored bool) {
	if t.w == nil {
		return
	}
	out := t.w.Header()
	for k, v := range h {
		if !t.c.hidden(k) {
			out[k] = v
		}
	}
	t.write(e, cacheStatus{fwd: fwdKind(stale), fwdStatus: e.status, stored: stored,
		ttl: e.lifetime - e.initialAge, hasTTL: stored, detail: freshDetail(e)})
}

// write sends status and body of e, or a 304 when the client's own
// validators match e (RFC 9111 §4.3.2).
func (t *txn) write(e *entry, cs cacheStatus) { t.writeAged(e, cs, -1) }

// writeAged is write with an Age field of age, unless age < 0.
func (t *txn) writeAged(e *entry, cs cacheStatus, age time.Duration) {
	h := t.w.Header()
	withBody := bodyAllowed(e.status)
	if len(t.r.Header["Range"]) == 0 && !t.notModified(e) {
		// The common case, a whole response: its computed fields in two
		// allocations.
		n := -1
		if withBody && len(h["Content-Length"]) == 0 {
			n = len(e.body)
		}
		t.setFields(h, cs, age, n)
		t.w.WriteHeader(e.status)
		if withBody && t.r.Method != http.MethodHead {
			_, _ = io.WriteString(t.w, e.body)
		}
		return
	}
	if age >= 0 {
		h["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	}
	if t.notModified(e) {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Range"} {
			delete(h, k)
		}
		t.setCacheStatus(h, cs)
		t.w.WriteHeader(http.StatusNotModified)
		return
	}
	if t.writeRange(e, cs) {
		return
	}
	if withBody && len(h["Content-Length"]) == 0 {
		h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
	}
	t.setCacheStatus(h, cs)
	t.w.WriteHeader(e.status)
	if withBody && t.r.Method != http.MethodHead {
		_, _ = io.WriteString(t.w, e.body)
	}
}

// setFields sets Age (unless age < 0), Content-Length (unless n < 0) and
// this cache's Cache-Status member in h, in one allocation: a fieldBlock
// holding the three values' text and the slice backing them.
func (t *txn) setFields(h http.Header, cs cacheStatus, age time.Duration, n int) {
	blk := new(fieldBlock)
	b := blk.text[:0]
	if age >= 0 {
		b = strconv.AppendInt(b, int64(age/time.Second), 10)
	}
	ageEnd := len(b)
	if n >= 0 {
		b = strconv.AppendInt(b, int64(n), 10)
	}
	lenEnd := len(b)
	cs.key = t.key
	b = t.c.appendCacheStatus(b, cs) // a longer text (an exposed long key) moves to a new array
	// b is never written again: the strings may share its memory.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	vals := blk.vals[:0]
	set := func(name, v string) {
		vals = append(vals, v)
		h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if age >= 0 {
		set("Age", s[:ageEnd])
	}
	if n >= 0 {
		set("Content-Length", s[ageEnd:lenEnd])
	}
	switch prev := h["Cache-Status"]; {
	case len(s) == lenEnd: // disabled
	case len(prev) > 0:
		h["Cache-Status"] = append(prev, s[lenEnd:])
	default:
		set("Cache-Status", s[lenEnd:])
	}
}

// fieldBlock backs the fields setFields computes.
type fieldBlock struct {
	vals [3]string
	text [176]byte
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// notModified evaluates the client's If-None-Match (or, without it,
// If-Modified-Since) against a 2xx entry.
func (t *txn) notModified(e *entry) bool {
	if e.status < 200 || e.status > 299 {
		return false
	}
	if inm := t.r.Header["If-None-Match"]; len(inm) > 0 {
		return etagMatch(inm, e.fields().Get("ETag"))
	}
	ims := t.r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	lm := e.fields().Get("Last-Modified")
	if lm == "" {
		lm = e.fields().Get("Date") // RFC 9110 §13.1.3: Date stands in for it
	}
	since, err1 := http.ParseTime(ims)
	mod, err2 := http.ParseTime(lm)
	return err1 == nil && err2 == nil && !mod.After(since)
}

// etagMatch is the weak comparison of If-None-Match (RFC 9110 §13.1.2).
func etagMatch(lines []string, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for tag := range listElements(lines...) {
		if tag == "*" && etag != "" {
			return true
		}
		if etag != "" && strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
