package httpcache

import (
	"iter"
	"net/http"
	"strings"
	"time"
)

// directives is a parsed Cache-Control field: lower-case directive name to
// its argument ("" when it has none). The first occurrence of a directive
// wins.
type directives map[string]string

// parseCacheControl parses every Cache-Control line of h. It returns nil when
// there is none.
func parseCacheControl(h http.Header) directives {
	lines := h["Cache-Control"]
	if len(lines) == 0 {
		return nil
	}
	d := make(directives, 4)
	for _, line := range lines {
		for line != "" {
			var name, val string
			name, val, line = nextDirective(line)
			if name == "" {
				continue
			}
			if _, dup := d[name]; !dup {
				d[name] = val
			}
		}
	}
	return d
}

// listElements yields the elements of the lines of a comma-separated list
// field (RFC 9110 §5.6.1), trimmed of whitespace; empty elements are
// skipped.
func listElements(lines ...string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range lines {
			for e := range strings.SplitSeq(line, ",") {
				if e = strings.TrimSpace(e); e != "" && !yield(e) {
					return
				}
			}
		}
	}
}

// nextDirective reads one directive from s, returning its lower-cased name,
// its argument unquoted, and the rest of s.
func nextDirective(s string) (name, val, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' {
		i++
	}
	name = strings.ToLower(strings.TrimSpace(s[:i]))
	if i == len(s) || s[i] == ',' {
		return name, "", s[i:]
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		if j < len(s) {
			j++
		}
		rest = s[j:]
		if k := strings.IndexByte(rest, ','); k >= 0 {
			rest = rest[k:]
		} else {
			rest = ""
		}
		return name, b.String(), rest
	}
	j := strings.IndexByte(s, ',')
	if j < 0 {
		j = len(s)
	}
	return name, strings.TrimSpace(s[:j]), s[j:]
}

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// maxDelta is what an overflowing delta-seconds value means (RFC 9111 §1.2.2).
const maxDelta = 2147483648

// seconds returns the delta-seconds argument of name. present reports the
// directive is there; valid that its argument is a non-negative integer.
func (d directives) seconds(name string) (v time.Duration, present, valid bool) {
	s, ok := d[name]
	if !ok {
		return 0, false, false
	}
	n, ok := parseDelta(s)
	return time.Duration(n) * time.Second, true, ok
}

// parseDelta parses delta-seconds: digits only, overflow clamped.
func parseDelta(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxDelta {
		n = maxDelta
	}
	return n, true
}

// requestDirectives are the request Cache-Control directives a cache obeys.
type requestDirectives struct {
	noCache, noStore, onlyIfCached bool
	maxAge, minFresh               time.Duration
	hasMaxAge, hasMinFresh         bool
	maxStale                       time.Duration // -1: any staleness
	hasMaxStale                    bool
	staleIfError                   time.Duration
	hasStaleIfError                bool
}

func parseRequestDirectives(h http.Header) requestDirectives {
	var rd requestDirectives
	d := parseCacheControl(h)
	if d == nil {
		// RFC 9111 §5.4: Pragma: no-cache only counts without Cache-Control.
		for _, p := range h["Pragma"] {
			if strings.Contains(strings.ToLower(p), "no-cache") {
				rd.noCache = true
			}
		}
		return rd
	}
	rd.noCache = d.has("no-cache")
	rd.noStore = d.has("no-store")
	rd.onlyIfCached = d.has("only-if-cached")
	if v, ok, valid := d.seconds("max-age"); ok {
		rd.hasMaxAge, rd.maxAge = true, v
		if !valid {
			rd.maxAge = 0
		}
	}
	if v, ok, valid := d.seconds("min-fresh"); ok && valid {
		rd.hasMinFresh, rd.minFresh = true, v
	}
	if v, ok, valid := d.seconds("max-stale"); ok {
		rd.hasMaxStale, rd.maxStale = true, v
		if !valid {
			rd.maxStale = -1
		}
	}
	if v, ok, valid := d.seconds("stale-if-error"); ok && valid {
		rd.hasStaleIfError, rd.staleIfError = true, v
	}
	return rd
}
