package httpcache_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// By default http and https requests have entries of their own (the scheme
// comes from r.TLS); Options.Scheme keys every request under one scheme, as
// needed behind a proxy terminating TLS.
func TestSchemeKeying(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	for _, tc := range []struct {
		name, scheme string
		httpsHit     bool
		key          string
	}{
		{"default: scheme of the connection", "", false, "https://example.com/s"},
		{"fixed https", "https", true, "https://example.com/s"},
		{"fixed http", "HTTP", true, "http://example.com/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{Keys: httpcache.KeyOptions{Scheme: tc.scheme}}, nil)
			o := &origin{clk: newClock()}
			o.set(resp{hdr: []string{ok60}, body: "v"})
			h := cached(c, o)
			do(h, "GET", "http://example.com/s")
			r := httptest.NewRequest("GET", "https://example.com/s", nil)
			r.TLS = &tls.ConnectionState{}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if hit := strings.Contains(w.Header().Get("Cache-Status"), "hit"); hit != tc.httpsHit {
				t.Errorf("https request after an http one: got Cache-Status %q, want hit %v", w.Header().Get("Cache-Status"), tc.httpsHit)
			}
			if key, ok := c.URLKey(r); !ok || key != tc.key {
				t.Errorf("URLKey of the https request: got %q, %v, want %q", key, ok, tc.key)
			}
			if tc.scheme != "" {
				if purged, err := c.Purge(context.Background(), "https://example.com/s"); err != nil || !purged {
					t.Errorf("Purge of the https URL: got %v, %v, want true (one shared entry)", purged, err)
				}
			}
		})
	}
}

// ExposeKey adds the URL key to Cache-Status as a structured-field string.
func TestExposeKey(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	for _, tc := range []struct {
		expose bool
		target string
		want   string
	}{
		{true, "http://example.com/k?b=2&a=1", `key="http://example.com/k?a=1&b=2"`},
		{true, `http://example.com/k?q=%22x%22&r="\`, `key="http://example.com/k?q=%22x%22&r=\"\\"`},
		{false, "http://example.com/k?a=1", ""},
	} {
		c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{CacheStatus: httpcache.StatusOptions{ExposeKey: tc.expose}, Keys: httpcache.KeyOptions{SortQuery: true}}, nil)
		o := &origin{clk: newClock()}
		o.set(resp{hdr: []string{ok60}, body: "v"})
		h := cached(c, o)
		for _, want := range []string{"stored", "hit"} {
			cs := do(h, "GET", tc.target).Header().Get("Cache-Status")
			if !strings.Contains(cs, want) || strings.Contains(cs, "key=") != (tc.want != "") || !strings.Contains(cs, tc.want) {
				t.Errorf("ExposeKey %v, %s: got Cache-Status %q, want %s and %q", tc.expose, tc.target, cs, want, tc.want)
			}
		}
	}
}

// detacher is a next handler bound to per-request state: it implements
// Detach (see Serve).
type detacher struct {
	detached, calls atomic.Int64
}

func (d *detacher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
	_, _ = w.Write([]byte("from foreground"))
}

func (d *detacher) Detach() http.Handler {
	d.detached.Add(1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("from background"))
	})
}

// A next handler with Detach is detached only for a background
// revalidation, during the request, and the handler it returns runs.
func TestBackgroundDetacher(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{}, nil)
	bg := &detacher{}
	serve := func() string {
		w := httptest.NewRecorder()
		c.Serve(w, httptest.NewRequest("GET", "http://example.com/d", nil), bg)
		return w.Header().Get("Cache-Status")
	}
	if cs := serve(); !strings.Contains(cs, "stored") || bg.detached.Load() != 0 {
		t.Fatalf("miss: got %q with %d detaches, want stored and none", cs, bg.detached.Load())
	}
	if cs := serve(); !strings.Contains(cs, "stale-while-revalidate") || bg.detached.Load() != 1 {
		t.Fatalf("stale hit: got %q with %d detaches, want stale-while-revalidate and 1", cs, bg.detached.Load())
	}
	poll(t, "the background revalidation", func() bool { return bg.calls.Load() == 1 && c.Stats().Stored == 2 })
	if cs := serve(); !strings.Contains(cs, "; hit") || bg.detached.Load() != 1 {
		t.Errorf("fresh hit after revalidation: got %q with %d detaches, want a hit and still 1", cs, bg.detached.Load())
	}
}
