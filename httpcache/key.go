package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rediskit/rediskit/internal/keypart"
)

// normalizeHost lower-cases host, drops a trailing dot and the scheme's
// default port.
func normalizeHost(host, scheme string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if i := strings.LastIndexByte(host, ':'); i < 0 || (host[0] == '[' && !strings.HasSuffix(host[:i], "]")) {
		return strings.TrimSuffix(host, ".") // no port
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" || (port == "80" && scheme != "https") || (port == "443" && scheme == "https") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	return strings.TrimSuffix(host, ".")
}

// requestScheme is the scheme a request came with: "https" over TLS (or
// when its URL says so), else "http". Forwarded headers are not read.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if r.URL != nil && r.URL.Scheme == "https" {
		return "https"
	}
	return "http"
}

// keyScheme is the scheme keyed for a request that came with scheme:
// Options.Scheme when set.
func (c *Cache) keyScheme(scheme string) string {
	if c.opts.Keys.Scheme != "" {
		return c.opts.Keys.Scheme
	}
	return scheme
}

// keyHost maps a request host to the host used in keys: itself when allowed,
// else the canonical host; ok is false when neither applies.
func (c *Cache) keyHost(host, scheme string) (string, bool) {
	h := normalizeHost(host, scheme)
	if len(c.hosts) == 0 && c.opts.Keys.CanonicalHost == "" {
		return h, h != ""
	}
	if c.hosts[h] {
		return h, true
	}
	if c.opts.Keys.CanonicalHost != "" {
		return c.opts.Keys.CanonicalHost, true
	}
	return "", false
}

// URLKey returns the cache key text of a request: keyed scheme, keyed host, path
// and (filtered, optionally sorted) query. ok is false when the request's
// host is not allowed. Vary headers are not part of it: they select a
// variant under this key.
func (c *Cache) URLKey(r *http.Request) (key string, ok bool) {
	scheme := requestScheme(r)
	host, ok := c.keyHost(r.Host, scheme)
	if !ok {
		return "", false
	}
	return c.urlKey(c.keyScheme(scheme), host, r.URL), true
}

func (c *Cache) urlKey(scheme, host string, u *url.URL) string {
	return c.buildKey("", scheme, host, u)
}

// requestKeys returns a request's entry key (entryKey), URL key and slot id
// for generation gen, building the first two in one allocation when the
// slot id is the URL key itself.
func (c *Cache) requestKeys(gen int64, scheme, host string, u *url.URL) (ekey, key, slot string) {
	prefix := c.genPrefix(gen)
	ekey = c.buildKey(prefix, scheme, host, u)
	key = ekey[len(prefix)+1 : len(ekey)-1]
	if slot = c.slotID(key); slot != key {
		ekey = c.entryKey(gen, slot)
	}
	return ekey, key, slot
}

// buildKey returns the URL key, or with a prefix, the prefix followed by the
// URL key in braces (the entry key when the URL key is its own slot id).
func (c *Cache) buildKey(prefix, scheme, host string, u *url.URL) string {
	q := c.keyQuery(u.RawQuery)
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(scheme) + len(host) + len(p) + len(q) + 6)
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('{')
	}
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(p)
	if q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	if prefix != "" {
		b.WriteByte('}')
	}
	return b.String()
}

// keyQuery drops ignored parameters and sorts when configured; raw encoding
// of the kept parameters is preserved.
func (c *Cache) keyQuery(raw string) string { return c.filterQuery(raw, c.opts.Keys.SortQuery) }

func (c *Cache) filterQuery(raw string, sortQuery bool) string {
	if raw == "" || (!sortQuery && len(c.ignore) == 0) {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if !c.ignore[name] {
			kept = append(kept, p)
		}
	}
	if sortQuery {
		slices.Sort(kept)
	}
	return strings.Join(kept, "&")
}

// slotID turns a URL key into the part placed inside the Redis hash tag
// (keypart.Encode): the key itself when at most MaxKeyBytes long, free of
// braces and not starting with '#', else '#' and a hash of it.
func (c *Cache) slotID(key string) string {
	return keypart.Encode(key, c.opts.Keys.MaxKeyBytes)
}

// sha256Hex is the hex of the first n bytes of s's SHA-256.
func sha256Hex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:n])
}

// normalizeVary returns the canonical, sorted, de-duplicated header names of
// a Vary field, joined with ",".
func normalizeVary(h http.Header) string {
	vals := h["Vary"]
	if len(vals) == 0 {
		return ""
	}
	var names []string
	for f := range listElements(vals...) {
		names = append(names, http.CanonicalHeaderKey(f))
	}
	return sortedSet(names)
}

// variantID identifies the variant of a request for a Vary spec: a hash of
// the normalized values of the named request headers.
func variantID(spec string, r http.Header) string {
	h := sha256.New()
	for _, name := range strings.Split(spec, ",") {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(normalizeHeaderValue(name, r[name])))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// normalizeHeaderValue combines a request header's lines for variant
// matching: whitespace around list elements is dropped, fields with
// q-values become sorted sets (vary.go), and Accept-Encoding becomes the
// sorted set of codings it accepts (q>0), so equivalent spellings share a
// variant.
func normalizeHeaderValue(name string, vals []string) string {
	if len(vals) == 0 {
		return "\x00absent"
	}
	elems := slices.Collect(listElements(vals...))
	if qLists[name] {
		return normalizeQList(elems)
	}
	if name != "Accept-Encoding" {
		return strings.Join(elems, ",")
	}
	set := elems[:0]
	for _, e := range elems {
		coding, params, _ := strings.Cut(e, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if qZero(params) || coding == "identity" {
			continue
		}
		set = append(set, coding)
	}
	return sortedSet(set)
}

// sortedSet joins the sorted, de-duplicated elements with ",".
func sortedSet(elems []string) string {
	slices.Sort(elems)
	return strings.Join(slices.Compact(elems), ",")
}

func qZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			v = strings.TrimRight(strings.TrimSpace(v), "0")
			return v == "" || v == "0." || v == "0"
		}
	}
	return false
}
