package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestProxy runs the proxy in-process, on an embedded Redis, in front of an
// httptest origin, without and with the in-process tier.
func TestProxy(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"redis", nil},
		{"in-process tier", []string{"-local-bytes", "1048576"}},
		{"no collapsing", []string{"-collapse=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testProxy(t, tc.args) })
	}
}

func testProxy(t *testing.T, args []string) {
	var mu sync.Mutex
	seen := map[string]int{}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()]++
		mu.Unlock()
		if r.Method == http.MethodGet {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	defer origin.Close()

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-origin", origin.URL}, args...), io.Discard, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-errc:
		t.Fatalf("run: got %v before listening", err)
	}
	send := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	steps := []struct {
		method, path string
		wantBody     string
		wantCS       string
		originCount  int // times the origin saw this method+path after the step
	}{
		{"GET", "/a/b?x=1", "GET /a/b?x=1", "fwd=miss", 1},
		{"GET", "/a/b?x=1", "GET /a/b?x=1", "hit", 1},
		{"HEAD", "/a/b?x=1", "", "hit", 0},
		{"PROPFIND", "/dav/x", "PROPFIND /dav/x", "", 1},
		{"POST", "/a/b?x=1", "POST /a/b?x=1", "", 1},
		{"GET", "/a/b?x=1", "GET /a/b?x=1", "fwd=miss", 2},
	}
	for i, s := range steps {
		res, body := send(s.method, s.path)
		if res.StatusCode != 200 || body != s.wantBody {
			t.Errorf("step %d %s %s: got %d %q, want 200 %q", i, s.method, s.path, res.StatusCode, body, s.wantBody)
		}
		if !strings.Contains(res.Header.Get("Cache-Status"), s.wantCS) {
			t.Errorf("step %d: Cache-Status got %q, want %q", i, res.Header.Get("Cache-Status"), s.wantCS)
		}
		if got := res.Header.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("step %d: X-Multi got %q, want [a b]", i, got)
		}
		mu.Lock()
		n := seen[s.method+" "+s.path]
		mu.Unlock()
		if n != s.originCount {
			t.Errorf("step %d: origin saw %s %s %d times, want %d", i, s.method, s.path, n, s.originCount)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel: got %v, want nil", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"-origin", "not a url"}, {"-origin", "ftp://x"}, {"-origin", "http://"}, {"-origin", "https:///path"}, {"-origin", "127.0.0.1:8000"}, {"-origin", "mailto:a@b"}, {"-origin", "http://127.0.0.1:1", "-redis", "ftp://x"}, {"-bogus"},
		{"-origin", "http://127.0.0.1:1", "-local-bytes", "-1"}, {"-origin", "http://127.0.0.1:1", "-local-bytes", "lots"},
		{"-origin", "http://127.0.0.1:1", "-collapse=maybe"}, {"-origin", "http://127.0.0.1:1", "extra"}} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run(%q): got nil, want an error", args)
		}
	}
}

// TestProxyStaleWhenOriginCloses: a stale response is served when the
// origin closes the connection without answering, not when it answers 502,
// nor when the response forbids it.
func TestProxyStaleWhenOriginCloses(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	var hangUp atomic.Bool
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hangUp.Load() {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		w.Header().Set("ETag", `"v1"`) // stored stale, for revalidation
		_, _ = io.WriteString(w, "stored "+r.URL.Path)
	}))
	defer origin.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	go func() {
		_ = run(ctx, []string{"-addr", "127.0.0.1:0", "-origin", origin.URL}, io.Discard, func(a string) { addrc <- a })
	}()
	base := "http://" + <-addrc
	get := func(path string) (int, string, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b), res.Header.Get("Cache-Status")
	}
	const stale, mustRevalidate = "/a?cc=max-age%3D0", "/b?cc=max-age%3D0%2C+must-revalidate"
	for _, p := range []string{stale, mustRevalidate} {
		if code, _, _ := get(p); code != 200 {
			t.Fatalf("GET %s: got %d, want 200", p, code)
		}
	}
	hangUp.Store(true)
	cases := []struct {
		path, body, cs string
		status         int
	}{
		{stale, "stored /a", "fwd=stale; fwd-status=502", 200},
		{mustRevalidate, "", "fwd=stale; fwd-status=502", 502},
		{"/c", "", "fwd=miss; fwd-status=502", 502},
	}
	for _, tc := range cases {
		code, body, cs := get(tc.path)
		if code != tc.status || body != tc.body || !strings.Contains(cs, tc.cs) {
			t.Errorf("GET %s with the origin hanging up: got %d %q (Cache-Status %q), want %d %q (%q)", tc.path, code, body, cs, tc.status, tc.body, tc.cs)
		}
		if tc.status == 200 && !strings.Contains(cs, "detail=origin-unreachable") {
			t.Errorf("GET %s: Cache-Status %q, want detail=origin-unreachable", tc.path, cs)
		}
	}
}
