package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// Reasons a response is not stored, as reported in Result.Reason, in
// Stats.NotStorable and in Cache-Status detail.
const (
	reasonRequestNoStore = "request-no-store"
	reasonNoStore        = "no-store"
	reasonPrivate        = "private"
	reasonAuthorization  = "authorization"
	reasonSetCookie      = "set-cookie"
	reasonStatus         = "status"
	reasonVaryStar       = "vary-star"
	reasonNoFreshness    = "no-freshness"
	reasonTooLarge       = "too-large"
	reasonRedis          = "redis-error"
)

var reasons = []string{reasonRequestNoStore, reasonNoStore, reasonPrivate, reasonAuthorization,
	reasonSetCookie, reasonStatus, reasonVaryStar, reasonNoFreshness, reasonTooLarge, reasonRedis}

// entry flags, derived from the response's Cache-Control when it is stored.
const (
	flagMustRevalidate = 1 << iota // must-revalidate, proxy-revalidate or s-maxage
	flagNoCache                    // no-cache: validate before every use
	flagAuthOK                     // public, s-maxage or must-revalidate (§3.5)
	flagHeuristic                  // the lifetime is heuristic (§4.2.2)
)

// heuristic lists the status codes cacheable without explicit freshness
// (RFC 9110 §15.1).
var heuristic = map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true,
	308: true, 404: true, 405: true, 410: true, 414: true, 501: true}

// policy is what the cache decided about one origin response.
type policy struct {
	reason   string // non-empty: not storable
	lifetime time.Duration
	swr, sie time.Duration
	flags    uint8
}

// Storable reports whether a shared cache may store the response to r with
// the given status and header, and why not (one of the Reason constants). It
// applies RFC 9111 §3 and §3.5 and this package's defaults (no Set-Cookie).
func (c *Cache) Storable(r *http.Request, status int, h http.Header) (ok bool, reason string) {
	p := c.policyFor(r, parseRequestDirectives(r.Header), status, h, time.Now())
	return p.reason == "", p.reason
}

func (c *Cache) policyFor(r *http.Request, rd requestDirectives, status int, h http.Header, now time.Time) policy {
	var p policy
	d := c.cacheDirectives(h)
	var heur bool
	p.lifetime, p.reason, heur = c.lifetime(r, status, d, h, now)
	if heur {
		p.flags |= flagHeuristic
	}
	p.swr = capWindow(d, "stale-while-revalidate", c.opts.Storage.MaxStaleWhileRevalidate)
	p.sie = capWindow(d, "stale-if-error", c.opts.Storage.MaxStaleIfError)
	if d.has("must-revalidate") || d.has("proxy-revalidate") || d.has("s-maxage") {
		p.flags |= flagMustRevalidate
	}
	if v, ok := d["no-cache"]; ok && v == "" {
		p.flags |= flagNoCache
	}
	if d.has("public") || d.has("s-maxage") || d.has("must-revalidate") {
		p.flags |= flagAuthOK
	}
	switch {
	case rd.noStore:
		p.reason = reasonRequestNoStore
	case d.has("must-understand") && !understood(status):
		p.reason = reasonStatus
	case d.has("no-store") && !d.has("must-understand"):
		p.reason = reasonNoStore
	case d.has("private"):
		p.reason = reasonPrivate
	case r.Header.Get("Authorization") != "" && p.flags&flagAuthOK == 0:
		p.reason = reasonAuthorization
	case len(h["Set-Cookie"]) > 0 && !c.opts.Storage.StoreSetCookie:
		p.reason = reasonSetCookie
	case status < 200 || status > 599 || status == 206 || status == 304:
		p.reason = reasonStatus
	case varyStar(h):
		p.reason = reasonVaryStar
	case p.reason != "":
	case p.lifetime <= 0 && p.swr == 0 && p.sie == 0 && h.Get("ETag") == "" && h.Get("Last-Modified") == "":
		p.reason = reasonNoFreshness
	}
	return p
}

// lifetime computes the freshness lifetime: s-maxage, then max-age, then
// Expires - Date, then a matching Rule for heuristically cacheable codes,
// then heuristic freshness (heur true). reason is set when nothing makes
// the response storable.
func (c *Cache) lifetime(r *http.Request, status int, d directives, h http.Header, now time.Time) (_ time.Duration, reason string, heur bool) {
	if v, ok, valid := d.seconds("s-maxage"); ok {
		return orZero(v, valid), "", false
	}
	if v, ok, valid := d.seconds("max-age"); ok {
		return orZero(v, valid), "", false
	}
	if exp, ok := h["Expires"]; ok {
		t, err := http.ParseTime(strings.TrimSpace(first(exp)))
		if err != nil {
			return 0, "", false
		}
		date := now
		if dt, err := http.ParseTime(h.Get("Date")); err == nil {
			date = dt
		}
		return max(t.Sub(date), 0), "", false
	}
	if !heuristic[status] && !d.has("public") {
		return 0, reasonStatus, false
	}
	if heuristic[status] {
		for _, rule := range c.opts.Storage.Rules {
			if strings.HasPrefix(r.URL.Path, rule.Prefix) {
				return rule.TTL, "", false
			}
		}
	}
	v, ok := c.heuristicLifetime(h, now)
	return v, "", ok
}

func orZero(v time.Duration, valid bool) time.Duration {
	if !valid {
		return 0
	}
	return v
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func capWindow(d directives, name string, limit time.Duration) time.Duration {
	v, ok, valid := d.seconds(name)
	if !ok || !valid {
		return 0
	}
	return min(v, limit)
}

// understood reports status codes this cache knows the semantics of, for
// must-understand: registered final codes but 206 (no range support) and 304.
func understood(status int) bool {
	return status >= 200 && status <= 599 && status != 206 && status != 304 && http.StatusText(status) != ""
}

func varyStar(h http.Header) bool {
	for f := range listElements(h["Vary"]...) {
		if f == "*" {
			return true
		}
	}
	return false
}

// hopByHop are never stored nor replayed (RFC 9110 §7.6.1), with Age
// (recomputed on every hit).
var hopByHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Age": true}

// storedHeader returns the header fields an entry keeps: h without hop-by-hop
// and Connection-listed fields, the tag header unless kept, and Set-Cookie.
func (c *Cache) storedHeader(h http.Header) http.Header {
	listed := connectionListed(h)
	// no-cache="a, b" (RFC 9111 §5.2.2.4): the listed fields are not kept,
	// the rest is reused without validation.
	if v := parseCacheControl(h)["no-cache"]; v != "" {
		if listed == nil {
			listed = map[string]bool{}
		}
		for f := range listElements(v) {
			listed[http.CanonicalHeaderKey(f)] = true
		}
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		if hopByHop[k] || listed[k] || k == "Set-Cookie" || (k == c.opts.Storage.TagHeader && !c.opts.Storage.KeepTagHeader) || len(v) == 0 {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

func connectionListed(h http.Header) map[string]bool {
	var m map[string]bool
	for f := range listElements(h["Connection"]...) {
		if m == nil {
			m = map[string]bool{}
		}
		m[http.CanonicalHeaderKey(f)] = true
	}
	return m
}
