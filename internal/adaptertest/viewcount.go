package adaptertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// newCounter is a direct Counter on the shared standalone server; the
// failures it reports are kept in errs.
func newCounter(t *testing.T) (c *viewcount.Counter, errs func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	c, err := viewcount.New(core.NewFromRedis(redistest.Standalone(t)), viewcount.Options{
		Secret: []byte("adapter-test-secret-0123"), Namespace: redistest.Prefix(t),
		OnError: func(_ context.Context, err error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, err.Error())
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// counts checks the counts of item: total, unique, bots.
func counts(c *viewcount.Counter, item string, want [3]int64) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, _ *httptest.ResponseRecorder) {
		t.Helper()
		s, err := c.Counts(context.Background(), item, 0)
		if got := [3]int64{s.Total, s.Unique, s.Bots}; err != nil || got != want {
			t.Errorf("counts of %q: got %v (err %v), want %v (total, unique, bots)", item, got, err, want)
		}
	}
}

func view(method, target, remote, ua string, status int, check func(*testing.T, *httptest.ResponseRecorder)) Step {
	return Step{Method: method, Target: target, Remote: remote, Header: []string{"User-Agent: " + ua}, Status: status, Check: check}
}

func viewCountCases() []tableCase {
	return []tableCase{
		{"viewcount/successful GETs count once per visitor, by route parameter", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			c, errs := newCounter(t)
			tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("id")})
			if err != nil {
				t.Fatal(err)
			}
			post := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
					w.WriteHeader(s)
				}
				_, _ = w.Write([]byte("post " + r.PathValue("id")))
			})
			routes := []Route{
				{Method: "GET", Path: "/posts/{id}", Handler: post},
				{Method: "POST", Path: "/posts/{id}", Handler: post},
				{Method: "GET", Path: "/gone/{id}", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Fail: http.StatusNotFound},
			}
			skip := func(r *http.Request) bool { return r.PathValue("id") == "skipped" }
			h := a.Router(routes, a.ViewCount(tr, skip))
			noErrors := func(t *testing.T, _ *httptest.ResponseRecorder) {
				if e := errs(); len(e) > 0 {
					t.Errorf("OnError: got %q, want nothing reported", e)
				}
			}
			return h, []Step{
				{Method: "GET", Target: "/posts/a", Remote: "203.0.113.1:1", Header: []string{"User-Agent: " + browserUA}, Status: 200,
					Body: Body("post a"), Check: counts(c, "a", [3]int64{1, 1, 0})},
				view("GET", "/posts/a", "203.0.113.1:2", browserUA, 200, counts(c, "a", [3]int64{1, 1, 0})), // a reload
				view("GET", "/posts/a", "203.0.113.2:1", browserUA, 200, counts(c, "a", [3]int64{2, 2, 0})),
				view("GET", "/posts/b?status=500", "203.0.113.1:1", browserUA, 500, counts(c, "b", [3]int64{})),
				view("GET", "/posts/b?status=404", "203.0.113.3:1", browserUA, 404, counts(c, "b", [3]int64{})),
				view("POST", "/posts/b", "203.0.113.1:1", browserUA, 200, counts(c, "b", [3]int64{})),
				view("GET", "/posts/c", "203.0.113.1:1", "Mozilla/5.0 (compatible; Googlebot/2.1)", 200, counts(c, "c", [3]int64{0, 0, 1})),
				view("GET", "/posts/c", "203.0.113.4:1", browserUA, 200, counts(c, "c", [3]int64{1, 1, 1})),
				view("GET", "/gone/d", "203.0.113.1:1", browserUA, 404, counts(c, "d", [3]int64{})),
				view("GET", "/posts/skipped", "203.0.113.1:1", browserUA, 200, counts(c, "skipped", [3]int64{})),
				{Method: "GET", Target: "/posts/z", Status: 200, Header: []string{"User-Agent: " + browserUA}, Check: noErrors},
			}
		}},
		{"viewcount/a missing route parameter is reported, never silently uncounted", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			c, errs := newCounter(t)
			tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("slug")})
			if err != nil {
				t.Fatal(err)
			}
			h := a.Router([]Route{{Method: "GET", Path: "/posts/{id}", Handler: ok}}, a.ViewCount(tr, nil))
			return h, []Step{{Method: "GET", Target: "/posts/a", Header: []string{"User-Agent: " + browserUA}, Status: 200,
				Body: Body("ok"), Check: func(t *testing.T, _ *httptest.ResponseRecorder) {
					if e := errs(); len(e) != 1 || !containsAll(e[0], "viewcount", "slug") {
						t.Errorf("OnError: got %q, want one report naming the missing slug", e)
					}
				}}}
		}},
		{"viewcount/the status the handler sent, however it sent it", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			c, _ := newCounter(t)
			tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{
				Visitor: viewcount.VisitorCookie(viewcount.CookieOptions{Insecure: true})})
			if err != nil {
				t.Fatal(err)
			}
			handlers := map[string]http.HandlerFunc{
				"/implicit-200":    func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) },
				"/nothing-written": func(http.ResponseWriter, *http.Request) {},
				"/flushed":         func(w http.ResponseWriter, _ *http.Request) { _ = http.NewResponseController(w).Flush() },
				"/error":           func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "x", http.StatusInternalServerError) },
				"/redirect":        func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) },
			}
			var routes []Route
			for path, h := range handlers {
				routes = append(routes, Route{Method: "GET", Path: path, Handler: h})
			}
			h := a.Router(routes, a.ViewCount(tr, nil))
			step := func(path string, status int, want int64) Step {
				s := view("GET", path, "", browserUA, status, nil)
				check := counts(c, path, [3]int64{want, want, 0})
				s.Check = func(t *testing.T, w *httptest.ResponseRecorder) {
					if !strings.Contains(w.Header().Get("Set-Cookie"), "vcid=") {
						t.Errorf("Set-Cookie: got %q, want the visitor cookie", w.Header().Get("Set-Cookie"))
					}
					check(t, w)
				}
				return s
			}
			return h, []Step{
				step("/implicit-200", 200, 1), step("/nothing-written", 200, 1), step("/flushed", 200, 1),
				step("/error", 500, 0), step("/redirect", 302, 0),
			}
		}},
	}
}

// containsAll reports whether s holds every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
