package httpcache

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// formatDirectives writes d back as one Cache-Control line: every argument
// as a quoted-string, '"' and '\' escaped. Test-only: the cache never writes
// Cache-Control.
func formatDirectives(d directives) string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		if v := d[n]; v != "" {
			b.WriteString(`="`)
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v))
			b.WriteByte('"')
		}
	}
	return b.String()
}

// FuzzParseCacheControl: parsing never panics, names are lower-case and
// hold no ',' or '=', no argument is longer than its input, delta-seconds
// stay within [0, 2^31], and parse → format → parse gives the same
// directives.
func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="Set-Cookie, X-A", max-age="30"`, " , ,s-maxage = 5 ,,",
		`private="a\"b", x`, `a="unterminated`, `x="\`, "max-age=99999999999999999999", "MAX-AGE=1\nno-store",
		"=5, =, ,=", "stale-while-revalidate=-1, stale-if-error=1.5", "ü=ö, \x00=\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h := http.Header{"Cache-Control": strings.Split(in, "\n")}
		d := parseCacheControl(h)
		for n, v := range d {
			if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, ",=") {
				t.Fatalf("directive name %q from %q", n, in)
			}
			if len(v) > len(in) {
				t.Fatalf("argument of %q is %d bytes from a %d-byte input", n, len(v), len(in))
			}
			if s, ok, valid := d.seconds(n); ok && valid && (s < 0 || s > maxDelta*time.Second) {
				t.Fatalf("%s=%q parsed as %v, want within [0, 2^31 s]", n, v, s)
			}
		}
		rd := parseRequestDirectives(h)
		if rd.maxAge < 0 || rd.minFresh < 0 || rd.maxStale < -1 || rd.staleIfError < 0 {
			t.Fatalf("request directives of %q: negative durations %+v", in, rd)
		}
		if d == nil {
			return
		}
		line := formatDirectives(d)
		again := parseCacheControl(http.Header{"Cache-Control": {line}})
		if len(again) != len(d) {
			t.Fatalf("%q → %q → %v, want %v", in, line, again, d)
		}
		for n, v := range d {
			if w, ok := again[n]; !ok || w != v {
				t.Fatalf("%q → %q: %s=%q, want %q", in, line, n, w, v)
			}
		}
	})
}

// FuzzDecodeEntry: any bytes stored under an entry key decode to an entry
// or errCorrupt, never a panic; what decodes re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	e := &entry{status: 200, responseTime: 1, lifetime: time.Minute, vary: "Accept",
		header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}}, body: "hello"}
	good := string(e.encode())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("RKH1")
	f.Add(strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decodeEntry(s)
		if err != nil {
			if err != errCorrupt {
				t.Fatalf("decode error %v, want errCorrupt", err)
			}
			return
		}
		if got := string(d.encode()); got != s {
			t.Fatalf("decode → encode changed %d bytes into %d", len(s), len(got))
		}
	})
}

// FuzzParseRange: parsing never panics; a satisfiable range lies within the
// representation and is not empty, and a field holding a comma is never
// answered with one range.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=1-", "bytes=-5", "bytes=5-", "bytes=-0", "bytes=0-1,3-4",
		"BYTES = 3-100", "items=0-1", "bytes=9-3", "bytes=-99999999999999999999", "bytes=-", "bytes=--1"} {
		f.Add(s, int64(10))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			t.Skip("sizes are lengths")
		}
		start, end, kind := parseRange(v, size)
		switch kind {
		case rangeSatisfiable:
			if start < 0 || start >= end || end > size {
				t.Errorf("parseRange(%q, %d): got [%d, %d), want a non-empty range within [0, %d)", v, size, start, end, size)
			}
			if strings.Contains(v, ",") {
				t.Errorf("parseRange(%q, %d): got one range from a field with several", v, size)
			}
		case rangeNone, rangeUnsatisfiable:
		default:
			t.Errorf("parseRange(%q, %d): got kind %d", v, size, kind)
		}
	})
}
