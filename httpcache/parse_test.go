package httpcache

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	t.Parallel()
	cc := parseCacheControl
	// surrogate reads Surrogate-Control lines for a cache named "me".
	surrogate := func(h http.Header) directives {
		return surrogateDirectives(http.Header{"Surrogate-Control": h["Cache-Control"]}, "me")
	}
	cases := []struct {
		parse func(http.Header) directives
		lines []string
		want  directives
	}{
		{cc, nil, nil},
		{cc, []string{"max-age=60"}, directives{"max-age": "60"}},
		{cc, []string{"Max-Age=60, PUBLIC", "no-cache"}, directives{"max-age": "60", "public": "", "no-cache": ""}},
		{cc, []string{`no-cache="Set-Cookie, X-A", max-age="30"`}, directives{"no-cache": "Set-Cookie, X-A", "max-age": "30"}},
		{cc, []string{"max-age=1, max-age=99"}, directives{"max-age": "1"}},
		{cc, []string{" , ,s-maxage = 5 ,,"}, directives{"s-maxage": "5"}},
		{cc, []string{`private="a\"b", x`}, directives{"private": `a"b`, "x": ""}},
		{surrogate, nil, nil},
		{surrogate, []string{"max-age=60"}, directives{"max-age": "60"}},
		{surrogate, []string{"max-age=60;other, no-store;cdn"}, nil},
		{surrogate, []string{"max-age=60;other", "no-store;Me"}, directives{"no-store": ""}},
		{surrogate, []string{"max-age=10, max-age=100;me, stale-if-error=5"}, directives{"max-age": "100", "stale-if-error": "5"}},
		{surrogate, []string{`content="ESI/1.0", MaX-aGe=30 ; me`}, directives{"content": "ESI/1.0", "max-age": "30"}},
	}
	for i, tc := range cases {
		got := tc.parse(http.Header{"Cache-Control": tc.lines})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("case %d, %q: got %v, want %v", i, tc.lines, got, tc.want)
		}
	}
}

func TestParseDeltaAndAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"0", 0, true}, {"60", 60, true}, {"99999999999999999999", maxDelta, true}, {"-1", 0, false}, {"1.5", 0, false}, {"", 0, false}, {" 1", 0, false}} {
		if got, ok := parseDelta(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("parseDelta(%q): got %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	stale := maxDelta * time.Second
	for _, tc := range []struct {
		lines []string
		want  time.Duration
	}{{nil, 0}, {[]string{"30"}, 30 * time.Second}, {[]string{"0,7200"}, 0}, {[]string{"0, 0"}, stale},
		{[]string{"0", "0"}, stale}, {[]string{"abc"}, stale}, {[]string{"7200;a=b"}, stale}} {
		if got := parseAge(tc.lines); got != tc.want {
			t.Errorf("parseAge(%q): got %v, want %v", tc.lines, got, tc.want)
		}
	}
}

func TestRequestDirectives(t *testing.T) {
	t.Parallel()
	rd := parseRequestDirectives(http.Header{"Cache-Control": {"max-stale, min-fresh=5, max-age=abc, only-if-cached"}})
	if !rd.hasMaxStale || rd.maxStale != -1 || rd.minFresh != 5*time.Second || !rd.hasMaxAge || rd.maxAge != 0 || !rd.onlyIfCached {
		t.Errorf("got %+v, want max-stale any, min-fresh 5s, max-age 0, only-if-cached", rd)
	}
	if rd := parseRequestDirectives(http.Header{"Pragma": {"no-cache"}}); !rd.noCache {
		t.Error("Pragma: no-cache alone: got no no-cache, want it")
	}
	if rd := parseRequestDirectives(http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"max-age=5"}}); rd.noCache {
		t.Error("Pragma with Cache-Control: got no-cache, want Cache-Control to win")
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	c, err := New(coreForTest(), Options{Keys: KeyOptions{SortQuery: true, IgnoreQuery: []string{"utm_source"}, MaxKeyBytes: 60}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ target, host, want string }{
		{"http://example.com/a?b=2&a=1", "", "http://example.com/a?a=1&b=2"},
		{"http://example.com/a?utm_source=x&a=1", "EXAMPLE.COM:80", "http://example.com/a?a=1"},
		{"http://example.com/a%2Fb", "", "http://example.com/a%2Fb"},
		{"http://example.com/", "[2001:db8::1]:80", "http://[2001:db8::1]/"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", tc.target, nil)
		if tc.host != "" {
			r.Host = tc.host
		}
		r.Header.Set("X-Forwarded-Host", "evil.example")
		if got, ok := c.URLKey(r); !ok || got != tc.want {
			t.Errorf("URLKey(%s, Host %s): got %q %v, want %q", tc.target, tc.host, got, ok, tc.want)
		}
	}
	long := "http://example.com/" + strings.Repeat("x", 100)
	if got := c.slotID(long); !strings.HasPrefix(got, "#") || len(got) != 33 {
		t.Errorf("slotID(long): got %q, want # and 32 hex digits of a SHA-256", got)
	}
	if got := c.slotID("http://example.com/{x}"); !strings.HasPrefix(got, "#") {
		t.Errorf("slotID with braces: got %q, want hashed", got)
	}
	if at := "http://example.com/" + strings.Repeat("x", 60-19); c.slotID(at) != at {
		t.Errorf("slotID of a key of exactly MaxKeyBytes: got %q, want it kept", c.slotID(at))
	}
}

func TestVaryNormalization(t *testing.T) {
	t.Parallel()
	if got := normalizeVary(http.Header{"Vary": {"accept-encoding, Accept-Language", "Accept-Encoding"}}); got != "Accept-Encoding,Accept-Language" {
		t.Errorf("normalizeVary: got %q", got)
	}
	same := [][]string{{"gzip, br"}, {"br;q=1.0,gzip"}, {"br", "gzip"}, {"BR, gzip;q=0.5, identity, zstd;q=0"}}
	want := normalizeHeaderValue("Accept-Encoding", same[0])
	for _, v := range same {
		if got := normalizeHeaderValue("Accept-Encoding", v); got != want {
			t.Errorf("Accept-Encoding %q: got %q, want %q", v, got, want)
		}
	}
	for _, v := range [][]string{{"gzip"}, nil, {""}, {"gzip, br, zstd"}} {
		if got := normalizeHeaderValue("Accept-Encoding", v); got == want {
			t.Errorf("Accept-Encoding %q: got the variant of %q, want another", v, same[0])
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	t.Parallel()
	e := &entry{status: 203, flags: flagNoCache, responseTime: -5, initialAge: time.Second, lifetime: time.Minute,
		swr: 2 * time.Second, vary: "Accept-Language", header: http.Header{"X-M": {"a", "", "b"}, "Content-Type": {"text/plain"}},
		body: "body\x00bytes"}
	got, err := decodeEntry(string(e.encode()))
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if got.header != nil || got.nFields != 2 || got.nVals != 4 || len(got.spare) != 0 || cap(got.spare) != 4 {
		t.Errorf("decoded fields: got header %v, %d fields, %d values, room for %d; want them encoded, 2, 4, 4",
			got.header, got.nFields, got.nVals, cap(got.spare))
	}
	got.fields()
	got.raw, got.nFields, got.nVals, got.spare = "", 0, 0, nil
	e.owned = true
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: got %+v, %v, want %+v", got, err, e)
	}
}

func TestQListNormalization(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		same [][]string // each spelling selects one variant
		diff [][]string // each selects another
	}{
		{"Accept-Language",
			[][]string{{"en, de"}, {"de, en"}, {"eN, De"}, {" en ,   de"}, {"en;q=1.0, de;q=1"}, {"de", "en"}, {"en, de, en"}},
			[][]string{{"en"}, {"en, de;q=0.5"}, {"en, de, fr"}, nil, {"en-US, de"}}},
		{"Accept-Language",
			[][]string{{"fr;q=0.5, de"}, {"de;q=1.000, FR; Q=0.50"}},
			[][]string{{"fr;q=0.6, de"}, {"fr;q=bad, de"}}},
		{"Accept",
			[][]string{{"text/html, application/json;q=0.9"}, {"application/JSON; q=0.90, TEXT/html"}},
			[][]string{{"text/html;level=1, application/json;q=0.9"}, {"text/html"}}},
		{"Accept-Charset",
			[][]string{{"utf-8, iso-8859-1;q=0.5"}, {"ISO-8859-1;q=.5,UTF-8"}},
			[][]string{{"utf-8"}}},
	}
	for _, tc := range cases {
		want := normalizeHeaderValue(tc.name, tc.same[0])
		for _, v := range tc.same {
			if got := normalizeHeaderValue(tc.name, v); got != want {
				t.Errorf("%s %q: got %q, want %q (as %q)", tc.name, v, got, want, tc.same[0])
			}
		}
		for _, v := range tc.diff {
			if got := normalizeHeaderValue(tc.name, v); got == want {
				t.Errorf("%s %q: got the variant of %q, want another", tc.name, v, tc.same[0])
			}
		}
	}
	if a, b := normalizeHeaderValue("X-List", []string{"a, b"}), normalizeHeaderValue("X-List", []string{"b, a"}); a == b {
		t.Errorf("X-List: order ignored (%q), want it kept for fields without q-values", a)
	}
}
