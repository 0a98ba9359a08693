package httpcache

import (
	"net/http"
	"strings"
)

// Surrogate-Control (W3C Edge Architecture 1.0, as CDNs such as Fastly and
// Akamai read it, and as the public HTTP caching test suite checks it) is a
// response header addressed to surrogates: caches run by or for the origin,
// which this cache is. Its directives are "max-age=N", "no-store",
// "stale-while-revalidate=N" and "stale-if-error=N", each optionally
// targeted at one surrogate with ";name" ("max-age=60;rediskit"). A
// directive targeted at this cache (CacheStatus.Name) wins over the same
// untargeted one; directives targeted at others are ignored.
//
// For this cache they replace Cache-Control's:
//   - no-store: the response is not stored, whatever Cache-Control says;
//   - max-age: the freshness lifetime, instead of s-maxage, max-age and
//     Expires; Cache-Control's no-store, no-cache, must-revalidate and
//     proxy-revalidate are then addressed to the caches downstream, not to
//     this one. private, Set-Cookie, Authorization (§3.5) and Vary still
//     apply.
//
// The header is kept in the entry (a 304 re-evaluates it) and removed from
// every response the cache sends: it is meant for surrogates only. A request
// the cache sends to the handler carries Surrogate-Capability with
// `<name>="Surrogate/1.0"`, so an origin can target this cache.

const surrogateControl = "Surrogate-Control"

// surrogateDirectives returns the Surrogate-Control directives of h that
// apply to the cache named name, or nil when there are none.
func surrogateDirectives(h http.Header, name string) directives {
	lines := h[surrogateControl]
	if len(lines) == 0 {
		return nil
	}
	var own, all directives
	for _, line := range lines {
		for line != "" {
			var dname, val string
			dname, val, line = nextDirective(line)
			target := ""
			if i := strings.IndexByte(dname, ';'); i >= 0 { // "no-store;name"
				dname, target = strings.TrimSpace(dname[:i]), dname[i+1:]
			} else if i := strings.IndexByte(val, ';'); i >= 0 { // "max-age=60;name"
				val, target = strings.TrimSpace(val[:i]), val[i+1:]
			}
			target = strings.TrimSpace(target)
			if dname == "" {
				continue
			}
			switch {
			case target == "":
				if all == nil {
					all = directives{}
				}
				if _, dup := all[dname]; !dup {
					all[dname] = val
				}
			case strings.EqualFold(target, name):
				if own == nil {
					own = directives{}
				}
				if _, dup := own[dname]; !dup {
					own[dname] = val
				}
			}
		}
	}
	if own == nil {
		return all
	}
	for k, v := range all {
		if _, ok := own[k]; !ok {
			own[k] = v
		}
	}
	return own
}

// applySurrogate returns the Cache-Control directives d as this cache
// reads them once the Surrogate-Control directives sc are applied (see
// above). d is not modified.
func applySurrogate(d, sc directives) directives {
	if sc == nil {
		return d
	}
	_, noStore := sc["no-store"]
	maxAge, hasMaxAge := sc["max-age"]
	swr, hasSWR := sc["stale-while-revalidate"]
	sie, hasSIE := sc["stale-if-error"]
	if !noStore && !hasMaxAge && !hasSWR && !hasSIE {
		return d
	}
	out := make(directives, len(d)+2)
	for k, v := range d {
		out[k] = v
	}
	if hasMaxAge {
		for _, k := range []string{"no-store", "no-cache", "must-revalidate", "proxy-revalidate", "s-maxage", "must-understand"} {
			delete(out, k)
		}
		out["max-age"] = maxAge
	}
	if hasSWR {
		out["stale-while-revalidate"] = swr
	}
	if hasSIE {
		out["stale-if-error"] = sie
	}
	if noStore {
		delete(out, "must-understand")
		out["no-store"] = ""
	}
	return out
}

// surrogateOn reports whether the cache reads Surrogate-Control.
func (c *Cache) surrogateOn() bool { return !c.opts.Storage.IgnoreSurrogateControl }

// cacheDirectives are the response's Cache-Control directives as this cache
// obeys them: with Surrogate-Control applied, unless ignored.
func (c *Cache) cacheDirectives(h http.Header) directives {
	d := parseCacheControl(h)
	if !c.surrogateOn() {
		return d
	}
	return applySurrogate(d, surrogateDirectives(h, c.opts.CacheStatus.Name))
}

// hidden reports header fields the cache never sends to a client: the tag
// header unless kept, and Surrogate-Control unless ignored.
func (c *Cache) hidden(k string) bool {
	return (k == c.opts.Storage.TagHeader && !c.opts.Storage.KeepTagHeader) ||
		(k == surrogateControl && c.surrogateOn())
}

// addSurrogateCapability adds this cache's Surrogate-Capability to a
// request for the handler, after any a downstream surrogate sent.
func (c *Cache) addSurrogateCapability(h http.Header) {
	if c.surrogateOn() {
		h.Add("Surrogate-Capability", c.surrogateCapability)
	}
}
