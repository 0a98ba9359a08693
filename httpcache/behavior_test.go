package httpcache_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestPoisoning(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	reflect := resp{hdr: []string{ok60, date0}, body: "host={host} xfh={xfh}"}
	cases := []struct {
		name  string
		opts  httpcache.Options
		steps []step
	}{
		{"X-Forwarded-Host never reaches the handler", httpcache.Options{}, []step{
			{req: []string{"X-Forwarded-Host: evil.example"}, origin: reflect, called: true, body: str("host=example.com xfh="),
				originSaw: []string{"X-Forwarded-Host:"}},
			{body: str("host=example.com xfh="), cs: "hit"},
		}},
		{"forwarded scheme, port and prefix never reach the handler", httpcache.Options{}, []step{
			{req: []string{"Forwarded: proto=https;host=evil.example", "X-Forwarded-Proto: https", "X-Forwarded-Scheme: https",
				"X-Forwarded-Port: 8443", "X-Forwarded-Prefix: /evil"}, origin: reflect, called: true,
				originSaw: []string{"Forwarded:", "X-Forwarded-Proto:", "X-Forwarded-Scheme:", "X-Forwarded-Port:", "X-Forwarded-Prefix:"}},
			{body: str("host=example.com xfh="), cs: "hit"},
		}},
		{"unlisted Host keyed and served as the canonical host", httpcache.Options{Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}, CanonicalHost: "example.com"}}, []step{
			{req: []string{"Host: evil.example"}, origin: reflect, called: true, body: str("host=example.com xfh="), originHost: "example.com"},
			{body: str("host=example.com xfh="), cs: "hit"},
			{req: []string{"Host: EXAMPLE.com:80"}, body: str("host=example.com xfh="), cs: "hit"},
		}},
		{"unlisted Host without canonical host bypasses", httpcache.Options{Keys: httpcache.KeyOptions{Hosts: []string{"example.com"}}}, []step{
			{req: []string{"Host: evil.example"}, origin: reflect, called: true, body: str("host=evil.example xfh="), cs: "fwd=bypass"},
			{origin: reflect, called: true, body: str("host=example.com xfh="), cs: "stored"},
			{req: []string{"Host: evil.example"}, origin: reflect, called: true, body: str("host=evil.example xfh=")},
		}},
		{"every Host is its own key space by default", httpcache.Options{}, []step{
			{req: []string{"Host: evil.example"}, origin: reflect, called: true},
			{origin: reflect, called: true, body: str("host=example.com xfh=")},
			{body: str("host=example.com xfh="), cs: "hit"},
		}},
		{"ignored query parameters neither keyed nor seen", httpcache.Options{Keys: httpcache.KeyOptions{IgnoreQuery: []string{"utm_source"}, SortQuery: true}},
			[]step{
				{target: "http://example.com/r?b=2&utm_source=x&a=1", origin: resp{hdr: []string{ok60}, body: "q={query}"}, called: true, body: str("q=b=2&a=1")},
				{target: "http://example.com/r?a=1&b=2", body: str("q=b=2&a=1"), cs: "hit"},
				{target: "http://example.com/r?a=1&b=2&utm_source=y", body: str("q=b=2&a=1"), cs: "hit"},
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := newCache(t, rdb, redistest.Prefix(t)+string(rune('a'+i)), tc.opts, clk)
			runSteps(t, c, clk, tc.steps)
		})
	}
}

func TestInvalidation(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		clk := newClock()
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, clk)
		o := &origin{clk: clk}
		h := cached(c, o)
		cached := func(path string) bool {
			return strings.Contains(do(h, "GET", "http://example.com"+path, "Cache-Control: only-if-cached").Header().Get("Cache-Status"), "hit")
		}
		fill := func(paths ...string) {
			o.set(resp{hdr: []string{ok60, date0}, body: "v"})
			for _, p := range paths {
				do(h, "GET", "http://example.com"+p)
				if !cached(p) {
					t.Fatalf("%s: got not cached after a GET, want cached", p)
				}
			}
		}
		cases := []struct {
			method, path string
			resp         resp
			gone, kept   []string
		}{
			{"POST", "/a", resp{status: 201}, []string{"/a"}, []string{"/b"}},
			{"POST", "/a", resp{status: 500}, nil, []string{"/a"}},
			{"PUT", "/x", resp{status: 200, hdr: []string{"Location: /a", "Content-Location: http://example.com/b?q=1"}}, []string{"/a", "/b?q=1"}, []string{"/b"}},
			{"DELETE", "/x", resp{status: 204, hdr: []string{"Location: http://other.example/a"}}, nil, []string{"/a"}},
			{"PATCH", "/a", resp{status: 303, hdr: []string{"Location: ../b"}}, []string{"/a", "/b"}, nil},
			{"FROB", "/a", resp{status: 200}, []string{"/a"}, nil},
		}
		for _, cs := range cases {
			fill("/a", "/b", "/b?q=1")
			o.set(cs.resp)
			do(h, cs.method, "http://example.com"+cs.path)
			for _, p := range cs.gone {
				if cached(p) {
					t.Errorf("%s %s (%d): %s: got still cached, want invalidated", cs.method, cs.path, cs.resp.status, p)
				}
			}
			for _, p := range cs.kept {
				if !cached(p) {
					t.Errorf("%s %s (%d): %s: got invalidated, want kept", cs.method, cs.path, cs.resp.status, p)
				}
			}
		}
	})
}

func TestPurge(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		clk := newClock()
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, clk)
		other := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{GenerationRefresh: time.Millisecond}, clk)
		o := &origin{clk: clk}
		h, h2 := cached(c, o), cached(other, o)
		cached := func(h http.Handler, path string, hdr ...string) bool {
			w := do(h, "GET", "http://example.com"+path, append(hdr, "Cache-Control: only-if-cached")...)
			return w.Code == 200
		}
		fill := func(path string, hdr ...string) {
			do(h, "GET", "http://example.com"+path, hdr...)
		}
		o.set(resp{hdr: []string{ok60, date0, "Cache-Tag: red, blue", "Vary: Accept-Language"}, body: "v"})
		fill("/1", "Accept-Language: en")
		fill("/1", "Accept-Language: fr")
		o.set(resp{hdr: []string{ok60, date0, "Cache-Tag: blue"}, body: "v"})
		fill("/2")
		o.set(resp{hdr: []string{ok60, date0, "Cache-Tag: green"}, body: "v"})
		fill("/3")
		if w := do(h, "GET", "http://example.com/3"); w.Header().Get("Cache-Tag") != "" {
			t.Errorf("Cache-Tag to client: got %q, want none", w.Header().Get("Cache-Tag"))
		}
		n, err := c.PurgeTag(ctx, "blue")
		if err != nil || n != 2 {
			t.Fatalf("PurgeTag(blue): got %d, %v, want 2, nil", n, err)
		}
		for _, p := range []string{"/1", "/2"} {
			if cached(h, p, "Accept-Language: fr") {
				t.Errorf("%s: got cached after PurgeTag, want gone", p)
			}
		}
		if !cached(h, "/3") {
			t.Fatal("/3: got purged with another tag, want cached")
		}
		if ok, err := c.Purge(ctx, "http://EXAMPLE.com:80/3"); !ok || err != nil {
			t.Fatalf("Purge: got %v, %v, want true, nil", ok, err)
		}
		if cached(h, "/3") {
			t.Error("/3: got cached after Purge, want gone")
		}
		fill("/3")
		if !cached(h2, "/3") {
			t.Fatal("/3 via a second instance: got not cached, want cached")
		}
		if err := c.PurgeAll(ctx); err != nil {
			t.Fatalf("PurgeAll: got %v, want nil", err)
		}
		if cached(h, "/3") {
			t.Error("/3: got cached after PurgeAll, want gone")
		}
		poll(t, "second instance to see PurgeAll", func() bool { return !cached(h2, "/3") })
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		clk := newClock()
		c := newCache(t, tc.RDB, tc.Prefix, httpcache.Options{}, clk)
		o := &origin{clk: clk}
		h := cached(c, o)
		o.set(resp{hdr: []string{"Cache-Control: max-age=10, stale-while-revalidate=60", date0, `ETag: "1"`}, body: "v1"})
		do(h, "GET", "http://example.com/s")
		clk.Advance(20 * time.Second)
		o.set(resp{status: 304, hdr: []string{"Cache-Control: max-age=10, stale-while-revalidate=60", date0, `ETag: "1"`, "X-New: yes"}})
		w := do(h, "GET", "http://example.com/s")
		if w.Body.String() != "v1" || !strings.Contains(w.Header().Get("Cache-Status"), "stale-while-revalidate") {
			t.Fatalf("stale response: got %q %q, want v1 with stale-while-revalidate", w.Body.String(), w.Header().Get("Cache-Status"))
		}
		poll(t, "background revalidation to store", func() bool { return c.Stats().Stored == 2 })
		if w := do(h, "GET", "http://example.com/s"); w.Header().Get("X-New") != "yes" {
			t.Errorf("after background revalidation: X-New got %q, want yes", w.Header().Get("X-New"))
		}
		if got := o.Calls(); got != 2 {
			t.Errorf("origin calls: got %d, want 2", got)
		}
		seen, _ := o.last()
		if seen.Get("If-None-Match") != `"1"` {
			t.Errorf("background request If-None-Match: got %q, want %q", seen.Get("If-None-Match"), `"1"`)
		}
		w = do(h, "GET", "http://example.com/s")
		if !strings.Contains(w.Header().Get("Cache-Status"), "hit; ttl=10") {
			t.Errorf("after revalidation: got %q, want a fresh hit", w.Header().Get("Cache-Status"))
		}
		clk.Advance(80 * time.Second) // past the window: validated in the foreground
		o.set(resp{hdr: []string{ok60, date0}, body: "v2"})
		if w := do(h, "GET", "http://example.com/s"); w.Body.String() != "v2" {
			t.Errorf("past the window: got %q, want v2", w.Body.String())
		}
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var results []httpcache.Result
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{
		OnResult: func(_ *http.Request, r httpcache.Result) { results = append(results, r) },
	}, clk)
	o := &origin{clk: clk}
	h := cached(c, o)
	o.set(resp{hdr: []string{ok60, date0}, body: "v"})
	do(h, "GET", "http://example.com/a")
	do(h, "GET", "http://example.com/a")
	o.set(resp{hdr: []string{"Cache-Control: private, max-age=60"}, body: "v"})
	do(h, "GET", "http://example.com/b")
	s := c.Stats()
	if s.Hits != 1 || s.Misses != 2 || s.Stored != 1 || s.NotStorable["private"] != 1 {
		t.Errorf("Stats: got %+v, want 1 hit, 2 misses, 1 stored, 1 private", s)
	}
	want := []httpcache.Result{{Status: "miss", Stored: true}, {Status: "hit"}, {Status: "miss", Reason: "private"}}
	for i := range want {
		results[i].Age = 0
		if i >= len(results) || results[i] != want[i] {
			t.Errorf("result %d: got %+v, want %+v", i, results, want[i])
		}
	}
}
