package httpcache

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Range requests (RFC 9110 §14). A GET with a Range field is looked up like
// any other request; when the stored response it may use is a complete 200,
// the cache answers the range itself:
//
//   - one range, "bytes=first-last", "bytes=first-" or "bytes=-suffix":
//     206 with Content-Range, the slice of the stored body;
//   - a range starting at or past the end (or a zero suffix): 416 with
//     Content-Range "bytes */<length>";
//   - several ranges: the whole 200 (RFC 9110 §14.2 lets a server ignore
//     Range; multipart/byteranges is not generated, since the ranges a
//     client needs at once are cheaper in one response than several parts
//     assembled from Redis);
//   - another unit or an invalid field: the whole 200, as §14.2 allows.
//
// If-Range (§13.1.5) is evaluated first: unless it matches the stored
// response (a strong ETag equal to it, or an HTTP-date equal to a strong
// Last-Modified: one at least a second before Date), the whole 200 is sent.
// If-None-Match and If-Modified-Since come before both (§13.2.2). Range is
// ignored on HEAD and on stored responses other than 200.
//
// A request with Range the cache cannot answer goes to the handler with its
// Range and If-Range, as it came: a 200 is stored as usual (and the client
// gets its range cut from it), a 206 is passed to the client and not stored
// (see the package doc on partial content).

// rangeKind is what a Range field asks of a stored representation.
type rangeKind int

const (
	rangeNone          rangeKind = iota // serve the whole representation
	rangeSatisfiable                    // 206 with one range
	rangeUnsatisfiable                  // 416
)

// parseRange reads a Range field for a representation of size bytes. It
// returns the range [start, end) when the field holds one satisfiable
// byte range.
func parseRange(v string, size int64) (start, end int64, kind rangeKind) {
	unit, set, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(set, ",") {
		return 0, 0, rangeNone
	}
	first, last, ok := strings.Cut(strings.TrimSpace(set), "-")
	if !ok {
		return 0, 0, rangeNone
	}
	if first == "" { // suffix: the last n bytes
		n, ok := parseDigits(last)
		if !ok {
			return 0, 0, rangeNone
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return max(size-n, 0), size, rangeSatisfiable
	}
	a, ok := parseDigits(first)
	if !ok {
		return 0, 0, rangeNone
	}
	end = size
	if last != "" {
		b, ok := parseDigits(last)
		if !ok || b < a {
			return 0, 0, rangeNone
		}
		end = min(b+1, size)
	}
	if a >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return a, end, rangeSatisfiable
}

// parseDigits parses a non-negative decimal of at most 18 digits.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// ifRangeMatches evaluates an If-Range field against the stored header h.
func ifRangeMatches(v string, h http.Header) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		etag := h.Get("ETag")
		return !strings.HasPrefix(v, "W/") && etag != "" && !strings.HasPrefix(etag, "W/") && etag == v
	}
	since, err := http.ParseTime(v)
	if err != nil {
		return false
	}
	lm, err1 := http.ParseTime(h.Get("Last-Modified"))
	date, err2 := http.ParseTime(h.Get("Date"))
	return err1 == nil && err2 == nil && lm.Equal(since) && date.Sub(lm) >= time.Second
}

// writeRange answers a GET with Range from the complete stored response e
// (206 or 416) and reports whether it did; false leaves the whole response
// to the caller. The header already holds e's fields.
func (t *txn) writeRange(e *entry, cs cacheStatus) bool {
	ranges := t.r.Header["Range"]
	if len(ranges) != 1 || t.r.Method != http.MethodGet || e.status != http.StatusOK {
		return false
	}
	if ir := t.r.Header["If-Range"]; len(ir) > 0 && !ifRangeMatches(ir[0], e.fields()) {
		return false
	}
	size := int64(len(e.body))
	start, end, kind := parseRange(ranges[0], size)
	h := t.w.Header()
	switch kind {
	case rangeSatisfiable:
		h["Content-Range"] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end-1, 10) + "/" + strconv.FormatInt(size, 10)}
		h["Content-Length"] = []string{strconv.FormatInt(end-start, 10)}
		t.setCacheStatus(h, cs)
		t.w.WriteHeader(http.StatusPartialContent)
		_, _ = io.WriteString(t.w, e.body[start:end])
	case rangeUnsatisfiable:
		for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Language"} {
			delete(h, k)
		}
		h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(size, 10)}
		h["Content-Length"] = []string{"0"}
		t.setCacheStatus(h, cs)
		t.w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	default:
		return false
	}
	return true
}
