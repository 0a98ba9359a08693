package adaptertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// newCache is a response cache on the shared standalone server under the
// test's own namespace.
func newCache(t *testing.T) *httpcache.Cache {
	t.Helper()
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), httpcache.Options{Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// origin answers like an application route: the response depends on the
// path and on query parameters that decide cacheability.
func origin(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		if cc := q.Get("cc"); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if et := q.Get("etag"); et != "" {
			w.Header().Set("ETag", `"`+et+`"`)
		}
		if q.Get("cookie") != "" {
			w.Header().Set("Set-Cookie", "s=1")
		}
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status := http.StatusOK
		if q.Get("status") == "404" {
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path)
	})
}

// calledTimes checks the handler ran n times so far.
func calledTimes(calls *atomic.Int64, n int64) func(*testing.T, *httptest.ResponseRecorder) {
	return func(t *testing.T, _ *httptest.ResponseRecorder) {
		t.Helper()
		if got := calls.Load(); got != n {
			t.Errorf("handler calls: got %d, want %d", got, n)
		}
	}
}

const (
	missStored = "rediskit; fwd=miss; fwd-status=200; ttl=60; stored"
	hit60      = "rediskit; hit; ttl=60"
)

func cacheStep(method, target string, header []string, status int, cacheStatus, body string, calls *atomic.Int64, n int64) Step {
	return Step{Method: method, Target: target, Header: header, Status: status, Body: Body(body),
		Headers: map[string]string{"Cache-Status": cacheStatus}, Check: calledTimes(calls, n)}
}

func httpCacheCases() []tableCase {
	return []tableCase{
		{"httpcache/RFC 9111 rules", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			var n atomic.Int64
			h := a.Router(anyRoute(origin(&n)), a.HTTPCache(newCache(t), nil))
			const p, e = "/p?cc=max-age%3D60", "/e?cc=max-age%3D60&etag=v1"
			stored := Step{Method: "GET", Target: p, Status: 200, Body: Body("GET /p"), Check: calledTimes(&n, 1),
				Headers: map[string]string{"Cache-Status": missStored, "X-Multi": "1, 2", "Content-Type": "text/plain; charset=utf-8",
					"Cache-Control": "max-age=60", "Age": ""}}
			return h, []Step{
				stored,
				cacheStep("GET", p, nil, 200, hit60, "GET /p", &n, 1),
				cacheStep("HEAD", p, nil, 200, hit60, "", &n, 1),
				{Method: "GET", Target: p, Header: []string{"Range: bytes=0-2"}, Status: 206, Body: Body("GET"), Check: calledTimes(&n, 1),
					Headers: map[string]string{"Cache-Status": hit60, "Content-Range": "bytes 0-2/6", "Content-Length": "3"}},
				{Method: "GET", Target: p, Header: []string{"Range: bytes=6-"}, Status: 416, Body: Body(""), Check: calledTimes(&n, 1),
					Headers: map[string]string{"Cache-Status": hit60, "Content-Range": "bytes */6"}},
				cacheStep("GET", p, []string{"Cache-Control: no-cache"}, 200, "rediskit; fwd=stale; fwd-status=200; ttl=60; stored", "GET /p", &n, 2),
				cacheStep("GET", e, []string{`If-None-Match: "v1"`}, 304, missStored, "", &n, 3),
				cacheStep("GET", e, []string{`If-None-Match: "v1"`}, 304, hit60, "", &n, 3),
				cacheStep("GET", e, nil, 200, hit60, "GET /e", &n, 3),
				cacheStep("GET", "/priv?cc=private%2C+max-age%3D60", nil, 200, "rediskit; fwd=miss; fwd-status=200; detail=private", "GET /priv", &n, 4),
				cacheStep("GET", "/priv?cc=private%2C+max-age%3D60", nil, 200, "rediskit; fwd=miss; fwd-status=200; detail=private", "GET /priv", &n, 5),
				cacheStep("GET", "/c?cc=max-age%3D60&cookie=1", nil, 200, "rediskit; fwd=miss; fwd-status=200; detail=set-cookie", "GET /c", &n, 6),
				cacheStep("GET", "/c?cc=max-age%3D60&cookie=1", nil, 200, "rediskit; fwd=miss; fwd-status=200; detail=set-cookie", "GET /c", &n, 7),
				cacheStep("GET", "/n?cc=max-age%3D60&status=404", nil, 404, "rediskit; fwd=miss; fwd-status=404; ttl=60; stored", "GET /n", &n, 8),
				cacheStep("GET", "/n?cc=max-age%3D60&status=404", nil, 404, hit60, "GET /n", &n, 8),
				cacheStep("POST", p, nil, 200, "", "POST /p", &n, 9), // invalidates /p
				cacheStep("GET", p, nil, 200, missStored, "GET /p", &n, 10),
				cacheStep("GET", "/v?cc=max-age%3D60", []string{"Authorization: Bearer x"}, 200, "rediskit; fwd=miss; fwd-status=200; detail=authorization", "GET /v", &n, 11),
				cacheStep("GET", "/v?cc=max-age%3D60", []string{"Cache-Control: only-if-cached"}, 504, "rediskit; fwd=miss; detail=only-if-cached", "only-if-cached: no stored response\n", &n, 11),
			}
		}},
		{"httpcache/a framework error response is cached like any other", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			var n atomic.Int64
			fail := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				n.Add(1)
				w.Header().Set("Cache-Control", "max-age=60")
			})
			h := a.Router([]Route{{Method: "GET", Path: "/err", Handler: fail, Fail: http.StatusNotFound}}, a.HTTPCache(newCache(t), nil))
			miss := Step{Method: "GET", Target: "/err", Status: 404, Check: calledTimes(&n, 1),
				Headers: map[string]string{"Cache-Status": "rediskit; fwd=miss; fwd-status=404; ttl=60; stored"}}
			hit := Step{Method: "GET", Target: "/err", Status: 404, Check: calledTimes(&n, 1), Headers: map[string]string{"Cache-Status": hit60}}
			return h, []Step{miss, hit}
		}},
		{"httpcache/skipper and route parameters", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			var n atomic.Int64
			item := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				k := n.Add(1)
				w.Header().Set("Cache-Control", "max-age=60")
				_, _ = io.WriteString(w, r.PathValue("id")+"#"+strconv.FormatInt(k, 10))
			})
			skip := func(r *http.Request) bool { return r.URL.Query().Get("skip") != "" }
			h := a.Router([]Route{{Method: "GET", Path: "/items/{id}", Handler: item}}, a.HTTPCache(newCache(t), skip))
			return h, []Step{
				cacheStep("GET", "/items/7?skip=1", nil, 200, "", "7#1", &n, 1),
				cacheStep("GET", "/items/7", nil, 200, missStored, "7#2", &n, 2),
				cacheStep("GET", "/items/7", nil, 200, hit60, "7#2", &n, 2),
				cacheStep("GET", "/items/8", nil, 200, missStored, "8#3", &n, 3),
			}
		}},
		{"httpcache/stale-while-revalidate refreshes in the background with the route", func(t *testing.T, a Adapter) (http.Handler, []Step) {
			var n atomic.Int64
			c := newCache(t)
			item := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				k := n.Add(1)
				w.Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
				w.Header().Set("ETag", `"x"`)
				_, _ = io.WriteString(w, r.PathValue("id")+"#"+strconv.FormatInt(k, 10))
			})
			h := a.Router([]Route{{Method: "GET", Path: "/items/{id}", Handler: item}}, a.HTTPCache(c, nil))
			return h, []Step{
				{Method: "GET", Target: "/items/7", Status: 200, Body: Body("7#1")},
				{Method: "GET", Target: "/items/7", Status: 200, Body: Body("7#1"), Check: func(t *testing.T, w *httptest.ResponseRecorder) {
					if cs := w.Header().Get("Cache-Status"); cs == "" || !containsAll(cs, "stale-while-revalidate") {
						t.Errorf("Cache-Status: got %q, want it served stale-while-revalidate", cs)
					}
					// The background revalidation runs the route's handler
					// after the request ended, with its path parameters.
					redistest.Eventually(t, 5*time.Second, "background revalidation stored", func() bool {
						return n.Load() == 2 && c.Stats().Stored >= 2
					})
				}},
				{Method: "GET", Target: "/items/7", Header: []string{"Cache-Control: max-stale"}, Status: 200, Body: Body("7#2")},
			}
		}},
	}
}
