package httpcache_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// step is one request of an RFC case: the origin's answer (used only if it
// is called), the request, and what the client must get.
type step struct {
	wait       time.Duration // advance the clock first
	method     string        // default GET
	target     string        // default http://example.com/r
	req        []string
	origin     resp
	called     bool     // the origin must (true) or must not (false) be called
	status     int      // default 200
	body       *string  // nil: not checked
	hdr        []string // "Name: value" (first value equals) or "Name:" (absent)
	vals       []string // "Name: value" lines: each named field's values, exactly and in order
	cs         string   // substring of Cache-Status
	originSaw  []string // request header fields the origin got; "Name:" absent
	originHost string
}

type rfcCase struct {
	name  string
	opts  httpcache.Options
	steps []step
}

func str(s string) *string { return &s }

const (
	ok60  = "Cache-Control: max-age=60"
	date0 = "Date: {date}"
)

func rfcCases() []rfcCase {
	return append(append(freshnessCases(), storabilityCases()...), validationCases()...)
}

func freshnessCases() []rfcCase {
	return []rfcCase{
		{name: "max-age fresh hit with Age", steps: []step{
			{origin: resp{hdr: []string{ok60, date0}, body: "v1"}, called: true, cs: "fwd=miss; fwd-status=200; ttl=60; stored"},
			{wait: 10 * time.Second, body: str("v1"), hdr: []string{"Age: 10", "Cache-Control: max-age=60"}, cs: "rediskit; hit; ttl=50"},
		}},
		{name: "max-age stale without validator refetches", steps: []step{
			{origin: resp{hdr: []string{ok60, date0}, body: "v1"}, called: true},
			{wait: 61 * time.Second, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2"), cs: "fwd=stale"},
			{body: str("v2"), cs: "hit"},
		}},
		{name: "s-maxage beats max-age", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=1, s-maxage=100", date0}, body: "v1"}, called: true},
			{wait: 50 * time.Second, body: str("v1"), cs: "hit"},
		}},
		{name: "Expires", steps: []step{
			{origin: resp{hdr: []string{"Expires: {date+100}", date0}, body: "v1"}, called: true},
			{wait: 50 * time.Second, body: str("v1"), cs: "hit"},
			{wait: 51 * time.Second, origin: resp{hdr: []string{"Expires: {date+100}", date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "invalid Expires is stale", steps: []step{
			{origin: resp{hdr: []string{"Expires: 0", date0, `ETag: "a"`}, body: "v1"}, called: true},
			{origin: resp{status: 304, hdr: []string{date0}}, called: true, originSaw: []string{`If-None-Match: "a"`}},
		}},
		{name: "Age from upstream counts", steps: []step{
			{origin: resp{hdr: []string{ok60, date0, "Age: 30"}, body: "v1"}, called: true},
			{wait: 20 * time.Second, hdr: []string{"Age: 50"}, cs: "hit"},
			{wait: 11 * time.Second, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "invalid Age makes the response stale", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=3600", date0, "Age: 0", "Age: 0"}, body: "v1"}, called: true},
			{origin: resp{hdr: []string{"Cache-Control: max-age=3600", date0, "Age: 1.5"}, body: "v2"}, called: true, body: str("v2")},
			{origin: resp{hdr: []string{"Cache-Control: max-age=3600", date0, "Age: -1"}, body: "v3"}, called: true, body: str("v3")},
		}},
		{name: "request max-age=0 revalidates", steps: []step{
			{origin: resp{hdr: []string{ok60, date0, `ETag: "a"`}, body: "v1"}, called: true},
			{req: []string{"Cache-Control: max-age=0"}, origin: resp{status: 304, hdr: []string{date0}}, called: true,
				body: str("v1"), cs: "fwd=stale; fwd-status=304"},
		}},
		{name: "request min-fresh", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=100", date0}, body: "v1"}, called: true},
			{wait: 50 * time.Second, req: []string{"Cache-Control: min-fresh=40"}, body: str("v1"), cs: "hit"},
			{req: []string{"Cache-Control: min-fresh=60"}, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true},
		}},
		{name: "request max-stale", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, req: []string{"Cache-Control: max-stale=30"}, body: str("v1"), cs: "hit"},
			{req: []string{"Cache-Control: max-stale"}, body: str("v1"), cs: "hit"},
			{req: []string{"Cache-Control: max-stale=5"}, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true},
		}},
		{name: "must-revalidate ignores max-stale", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10, must-revalidate", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, req: []string{"Cache-Control: max-stale=30"}, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true},
		}},
		{name: "only-if-cached", steps: []step{
			{req: []string{"Cache-Control: only-if-cached"}, status: 504, cs: "fwd=miss"},
			{origin: resp{hdr: []string{ok60, date0}, body: "v1"}, called: true},
			{req: []string{"Cache-Control: only-if-cached"}, body: str("v1"), cs: "hit"},
			{wait: 61 * time.Second, req: []string{"Cache-Control: only-if-cached"}, status: 504},
		}},
		{name: "rule TTL for no freshness", opts: httpcache.Options{Storage: httpcache.StorageOptions{Rules: []httpcache.Rule{{Prefix: "/r", TTL: time.Minute}}}}, steps: []step{
			{origin: resp{hdr: []string{date0}, body: "v1"}, called: true, cs: "stored"},
			{wait: 30 * time.Second, body: str("v1"), cs: "hit"},
		}},
	}
}

func storabilityCases() []rfcCase {
	notStored := func(name string, h ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: resp{hdr: append(h, date0), body: "v1"}, called: true},
			{origin: resp{hdr: append(h, date0), body: "v2"}, called: true, body: str("v2")},
		}}
	}
	stored := func(name string, status int, h ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: resp{status: status, hdr: append(h, date0), body: "v1"}, called: true, status: status},
			{status: status, body: str("v1"), cs: "hit"},
		}}
	}
	return []rfcCase{
		notStored("no-store", "Cache-Control: max-age=60, no-store"),
		notStored("private", "Cache-Control: max-age=60, private"),
		notStored("private qualified", `Cache-Control: max-age=60, private="X-User"`),
		notStored("Set-Cookie", ok60, "Set-Cookie: s=1"),
		notStored("Vary star", ok60, "Vary: *"),
		notStored("no freshness, no validator", "X-A: 1"),
		notStored("500 without freshness", "Content-Type: text/plain"),
		stored("404 heuristic status with max-age", 404, ok60),
		stored("500 with explicit max-age", 500, ok60),
		{name: "203 multi-value", steps: []step{
			{origin: resp{status: 203, hdr: []string{ok60, date0, "X-Multi: b", "X-Multi: a", "X-Multi: c"}, body: "v1"},
				called: true, status: 203, vals: []string{"X-Multi: b", "X-Multi: a", "X-Multi: c"}},
			{status: 203, body: str("v1"), vals: []string{"X-Multi: b", "X-Multi: a", "X-Multi: c", "Cache-Control: max-age=60"}, cs: "hit"},
		}},
		{name: "request no-store", steps: []step{
			{req: []string{"Cache-Control: no-store"}, origin: resp{hdr: []string{ok60, date0}, body: "v1"}, called: true},
			{origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "Set-Cookie stored stripped when allowed", opts: httpcache.Options{Storage: httpcache.StorageOptions{StoreSetCookie: true}}, steps: []step{
			{origin: resp{hdr: []string{ok60, date0, "Set-Cookie: s=1"}, body: "v1"}, called: true, hdr: []string{"Set-Cookie: s=1"}},
			{body: str("v1"), hdr: []string{"Set-Cookie:"}, cs: "hit"},
		}},
		{name: "Authorization: not stored without public", steps: []step{
			{req: []string{"Authorization: Bearer a"}, origin: resp{hdr: []string{ok60, date0}, body: "alice"}, called: true},
			{origin: resp{hdr: []string{ok60, date0}, body: "anon"}, called: true, body: str("anon")},
		}},
		{name: "Authorization: public stored", steps: []step{
			{req: []string{"Authorization: Bearer a"}, origin: resp{hdr: []string{"Cache-Control: public, max-age=60", date0}, body: "pub"}, called: true},
			{body: str("pub"), cs: "hit"},
		}},
		{name: "Authorization: s-maxage stored", steps: []step{
			{req: []string{"Authorization: Bearer a"}, origin: resp{hdr: []string{"Cache-Control: s-maxage=60", date0}, body: "pub"}, called: true},
			{req: []string{"Authorization: Bearer b"}, body: str("pub"), cs: "hit"},
		}},
		{name: "Authorization: request not served a plain entry", steps: []step{
			{origin: resp{hdr: []string{ok60, date0}, body: "anon"}, called: true},
			{req: []string{"Authorization: Bearer a"}, origin: resp{hdr: []string{ok60, date0}, body: "alice"}, called: true, body: str("alice")},
			{body: str("anon"), cs: "hit"},
		}},
		{name: "qualified no-cache drops the listed fields, reuses the rest", steps: []step{
			{origin: resp{hdr: []string{`Cache-Control: max-age=60, no-cache="X-A, x-b"`, date0, "X-A: 1", "X-B: 2", "X-C: 3"}, body: "v1"}, called: true},
			{hdr: []string{"X-A:", "X-B:", "X-C: 3"}, cs: "hit"},
		}},
		{name: "hop-by-hop not replayed", steps: []step{
			{origin: resp{hdr: []string{ok60, date0, "Connection: X-Secret", "X-Secret: s", "Keep-Alive: timeout=5", "X-Kept: k"}, body: "v1"}, called: true},
			{hdr: []string{"X-Secret:", "Keep-Alive:", "X-Kept: k"}, cs: "hit"},
		}},
		{name: "HEAD from GET entry", steps: []step{
			{origin: resp{hdr: []string{ok60, date0}, body: "hello"}, called: true},
			{method: "HEAD", body: str(""), hdr: []string{"Content-Length: 5"}, cs: "hit"},
		}},
		{name: "HEAD miss is forwarded, not stored", steps: []step{
			{method: "HEAD", origin: resp{hdr: []string{ok60, date0}, body: "hello"}, called: true, body: str("")},
			{origin: resp{hdr: []string{ok60, date0}, body: "hello"}, called: true, body: str("hello")},
		}},
	}
}

func validationCases() []rfcCase {
	etag := []string{ok60, date0, `ETag: "v1"`, "Last-Modified: {date-100}"}
	return []rfcCase{
		{name: "client If-None-Match answered 304 by cache", steps: []step{
			{origin: resp{hdr: etag, body: "v1"}, called: true},
			{req: []string{`If-None-Match: "x", W/"v1"`}, status: 304, body: str(""), hdr: []string{`ETag: "v1"`}, cs: "hit"},
			{req: []string{`If-None-Match: "other"`}, status: 200, body: str("v1"), cs: "hit"},
		}},
		{name: "client If-Modified-Since answered 304 by cache", steps: []step{
			{origin: resp{hdr: etag, body: "v1"}, called: true},
			{req: []string{"If-Modified-Since: {date}"}, status: 304, cs: "hit"},
		}},
		{name: "client conditional on miss: origin gets none, client gets 304", steps: []step{
			{req: []string{`If-None-Match: "v1"`}, origin: resp{hdr: etag, body: "v1"}, called: true, status: 304,
				originSaw: []string{"If-None-Match:"}, cs: "stored"},
			{body: str("v1"), cs: "hit"},
		}},
		{name: "stale revalidated with 304 updates headers", steps: []step{
			{origin: resp{hdr: append(etag, "X-Version: 1"), body: "v1"}, called: true},
			{wait: 61 * time.Second, origin: resp{status: 304, hdr: []string{ok60, date0, `ETag: "v1"`, "X-Version: 2"}}, called: true,
				originSaw: []string{`If-None-Match: "v1"`}, status: 200, body: str("v1"), hdr: []string{"X-Version: 2"},
				cs: "fwd=stale; fwd-status=304; ttl=60; stored"},
			{wait: 30 * time.Second, body: str("v1"), hdr: []string{"X-Version: 2", "Age: 30"}, cs: "hit"},
		}},
		{name: "304 with Last-Modified only", steps: []step{
			{origin: resp{hdr: []string{ok60, date0, "Last-Modified: {date-100}"}, body: "v1"}, called: true},
			{wait: 61 * time.Second, origin: resp{status: 304, hdr: []string{ok60, date0}}, called: true,
				originSaw: []string{"If-Modified-Since: {date-161}"}, body: str("v1")},
		}},
		{name: "304 never updates ETag, Content-Length or Content-MD5", steps: []step{
			{origin: resp{hdr: append(etag, "Content-MD5: a", "Content-Type: text/plain"), body: "v1"}, called: true},
			{wait: 61 * time.Second, origin: resp{status: 304, hdr: []string{ok60, date0, `ETag: "zz"`, "Content-MD5: b", "Content-Type: text/html", "Content-Length: 99"}},
				called: true, body: str("v1"), hdr: []string{`ETag: "v1"`, "Content-MD5: a", "Content-Type: text/html", "Content-Length: 2"}},
		}},
		{name: "no-cache response always validated", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: no-cache", date0, `ETag: "a"`}, body: "v1"}, called: true},
			{origin: resp{status: 304, hdr: []string{date0}}, called: true, originSaw: []string{`If-None-Match: "a"`}, body: str("v1"), cs: "fwd-status=304"},
		}},
		{name: "request no-cache and Pragma validate", steps: []step{
			{origin: resp{hdr: etag, body: "v1"}, called: true},
			{req: []string{"Cache-Control: no-cache"}, origin: resp{status: 304, hdr: []string{date0}}, called: true, body: str("v1")},
			{req: []string{"Pragma: no-cache"}, origin: resp{status: 304, hdr: []string{date0}}, called: true, body: str("v1")},
		}},
		{name: "stale-if-error", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10, stale-if-error=60", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: resp{status: 503, body: "down"}, called: true, body: str("v1"), cs: "fwd=stale; fwd-status=503"},
			{wait: 60 * time.Second, origin: resp{status: 503, body: "down"}, called: true, status: 503, body: str("down")},
		}},
		{name: "request stale-if-error", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, req: []string{"Cache-Control: stale-if-error=30"}, origin: resp{status: 500, body: "down"}, called: true, body: str("v1")},
		}},
		{name: "proxy-revalidate ignores max-stale and stale-if-error", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10, proxy-revalidate, stale-if-error=60", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, req: []string{"Cache-Control: max-stale=30"},
				origin: resp{hdr: []string{"Cache-Control: max-age=10, proxy-revalidate, stale-if-error=60", date0}, body: "v2"},
				called: true, body: str("v2"), cs: "fwd=stale"},
			{wait: 20 * time.Second, req: []string{"Cache-Control: stale-if-error=60"}, origin: resp{status: 503, body: "down"},
				called: true, status: 503, body: str("down")},
		}},
		{name: "must-revalidate forbids stale-if-error", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10, must-revalidate, stale-if-error=60", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: resp{status: 503, body: "down"}, called: true, status: 503},
		}},
		{name: "Vary: one entry per variant", steps: []step{
			{req: []string{"Accept-Language: en"}, origin: resp{hdr: []string{ok60, date0, "Vary: Accept-Language"}, body: "hello"}, called: true},
			{req: []string{"Accept-Language: fr"}, origin: resp{hdr: []string{ok60, date0, "Vary: Accept-Language"}, body: "bonjour"}, called: true},
			{req: []string{"Accept-Language: en"}, body: str("hello"), cs: "hit"},
			{req: []string{"Accept-Language: fr"}, body: str("bonjour"), cs: "hit"},
			{origin: resp{hdr: []string{ok60, date0, "Vary: Accept-Language"}, body: "default"}, called: true, body: str("default")},
		}},
		{name: "Vary Accept-Encoding normalized", steps: []step{
			{req: []string{"Accept-Encoding: gzip, br"}, origin: resp{hdr: []string{ok60, date0, "Vary: accept-encoding"}, body: "z"}, called: true},
			{req: []string{"Accept-Encoding: br;q=1.0,gzip"}, body: str("z"), cs: "hit"},
			{req: []string{"Accept-Encoding: br, gzip, identity, zstd;q=0"}, body: str("z"), cs: "hit"},
			{req: []string{"Accept-Encoding: gzip"}, origin: resp{hdr: []string{ok60, date0, "Vary: Accept-Encoding"}, body: "g"}, called: true},
		}},
	}
}

func TestRFC(t *testing.T) { runCases(t, rfcCases()) }

// runCases plays each case on its own cache, on every topology.
func runCases(t *testing.T, cases []rfcCase) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		for i, rc := range cases {
			t.Run(rc.name, func(t *testing.T) {
				t.Parallel()
				clk := newClock()
				c := newCache(t, tc.RDB, tc.Prefix+":"+strconv.Itoa(i), rc.opts, clk)
				runSteps(t, c, clk, rc.steps)
			})
		}
	})
}

// runSteps plays steps through mw(origin) and checks each response.
func runSteps(t *testing.T, c *httpcache.Cache, clk *clock, steps []step) {
	t.Helper()
	o := &origin{clk: clk}
	h := cached(c, o)
	for i, s := range steps {
		clk.Advance(s.wait)
		o.set(s.origin)
		before := o.Calls()
		method, target := s.method, s.target
		if method == "" {
			method = http.MethodGet
		}
		if target == "" {
			target = "http://example.com/r"
		}
		req := make([]string, len(s.req))
		for j, v := range s.req {
			name, val, _ := strings.Cut(v, ":")
			req[j] = name + ": " + o.expand(strings.TrimSpace(val)) // {date}, {date±N}
		}
		w := do(h, method, target, req...)
		checkStep(t, i, s, o, before, w.Code, w.Header(), w.Body.String())
	}
}

func checkStep(t *testing.T, i int, s step, o *origin, before, code int, h http.Header, body string) {
	t.Helper()
	if called := o.Calls() > before; called != s.called {
		t.Errorf("step %d: origin called: got %v, want %v (Cache-Status %q)", i, called, s.called, h.Get("Cache-Status"))
	}
	want := s.status
	if want == 0 {
		want = http.StatusOK
	}
	if code != want {
		t.Errorf("step %d: status: got %d, want %d (Cache-Status %q)", i, code, want, h.Get("Cache-Status"))
	}
	if s.body != nil && body != *s.body {
		t.Errorf("step %d: body: got %q, want %q", i, body, *s.body)
	}
	for _, line := range s.hdr {
		name, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		if got := h.Get(name); got != val || (val == "" && len(h.Values(name)) > 0) {
			t.Errorf("step %d: header %s: got %q, want %q", i, name, h.Values(name), val)
		}
	}
	checkValues(t, i, s.vals, h)
	if !strings.Contains(h.Get("Cache-Status"), s.cs) {
		t.Errorf("step %d: Cache-Status: got %q, want it to contain %q", i, h.Get("Cache-Status"), s.cs)
	}
	seen, host := o.last()
	for _, line := range s.originSaw {
		name, val, _ := strings.Cut(line, ":")
		val = o.expand(strings.TrimSpace(val))
		if got := seen.Get(name); got != val {
			t.Errorf("step %d: origin saw %s: got %q, want %q", i, name, got, val)
		}
	}
	if s.originHost != "" && host != s.originHost {
		t.Errorf("step %d: origin saw Host: got %q, want %q", i, host, s.originHost)
	}
}

// checkValues checks that each field named in vals ("Name: value" lines)
// has exactly the listed values, in order.
func checkValues(t *testing.T, i int, vals []string, h http.Header) {
	t.Helper()
	want := map[string][]string{}
	var names []string
	for _, line := range vals {
		name, val, _ := strings.Cut(line, ":")
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
		want[name] = append(want[name], strings.TrimSpace(val))
	}
	for _, name := range names {
		if got := h.Values(name); !slices.Equal(got, want[name]) {
			t.Errorf("step %d: %s values: got %q, want %q", i, name, got, want[name])
		}
	}
}
