// Package adaptertest is the one behaviour table every framework adapter
// runs: the same requests through the same features (ratelimit, httpcache,
// viewcount) must give the same statuses, headers, bodies, counts and
// errors whatever the framework. An adapter's test describes how to build
// middleware and routes with it (an Adapter) and calls Run; adding an
// adapter adds one such description, not a copy of tests.
package adaptertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// Skip is a framework-neutral Skipper: the adapter calls it with the
// request of the framework's context.
type Skip func(*http.Request) bool

// Middleware is one adapter's middleware value (func(http.Handler)
// http.Handler, echo.MiddlewareFunc, ...), handed back to its Router.
type Middleware any

// Route is one route of a table case.
type Route struct {
	// Method is the HTTP method; "" matches any.
	Method string
	// Path is a net/http ServeMux path: "/posts/{id}", "/{rest...}".
	Path string
	// Handler answers. It may set headers only and leave the answer to
	// Fail.
	Handler http.Handler
	// Fail, when not zero, makes the route fail the framework's own way
	// after Handler ran: net/http writes http.Error, Echo returns an
	// *echo.HTTPError, Gin aborts with the status.
	Fail int
}

// Adapter describes one framework adapter to the table.
type Adapter struct {
	Name string
	// Router serves routes through the framework, each behind mw (outermost
	// first) registered on the route itself, so that the middleware knows
	// the route pattern and parameters.
	Router func(routes []Route, mw ...Middleware) http.Handler
	// RateLimit, HTTPCache and ViewCount build the adapter's middleware for
	// each feature, with skip as its Skipper (nil: never skip).
	RateLimit func(opts ratelimit.GuardOptions, skip Skip) Middleware
	HTTPCache func(c *httpcache.Cache, skip Skip) Middleware
	ViewCount func(t *viewcount.Tracker, skip Skip) Middleware
}

// Step is one request of a case and what must come back.
type Step struct {
	Method, Target string   // Target: path and query, host example.com
	Remote         string   // RemoteAddr; default 192.0.2.1:1
	Header         []string // "Name: value" lines
	Status         int
	// Headers must have these values; "" means absent.
	Headers map[string]string
	// Body, when not nil, must be the whole body.
	Body *string
	// Check, when set, runs after the request (handler calls, counts).
	Check func(t *testing.T, w *httptest.ResponseRecorder)
}

// Body returns a pointer to s, for Step.Body.
func Body(s string) *string { return &s }

// Run runs every case of the table through a.
func Run(t *testing.T, a Adapter) {
	t.Helper()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, steps := c.build(t, a)
			for i, s := range steps {
				play(t, h, i, s)
			}
		})
	}
}

type tableCase struct {
	name  string
	build func(t *testing.T, a Adapter) (http.Handler, []Step)
}

func cases() []tableCase {
	var all []tableCase
	all = append(all, rateLimitCases()...)
	all = append(all, httpCacheCases()...)
	all = append(all, viewCountCases()...)
	all = append(all, stackCase())
	return all
}

// play sends s to h and checks the answer.
func play(t *testing.T, h http.Handler, i int, s Step) {
	t.Helper()
	r := httptest.NewRequest(s.Method, "http://example.com"+s.Target, nil)
	r.RemoteAddr = "192.0.2.1:1"
	if s.Remote != "" {
		r.RemoteAddr = s.Remote
	}
	for _, line := range s.Header {
		k, v, _ := strings.Cut(line, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != s.Status {
		t.Errorf("step %d %s %s: status: got %d (%q), want %d", i, s.Method, s.Target, w.Code, w.Body.String(), s.Status)
	}
	for k, v := range s.Headers {
		if got := strings.Join(w.Header().Values(k), ", "); got != v {
			t.Errorf("step %d %s %s: %s: got %q, want %q", i, s.Method, s.Target, k, got, v)
		}
	}
	if s.Body != nil && w.Body.String() != *s.Body {
		t.Errorf("step %d %s %s: body: got %q, want %q", i, s.Method, s.Target, w.Body.String(), *s.Body)
	}
	if s.Check != nil {
		s.Check(t, w)
	}
}

// ok is a route handler answering 200 "ok".
var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
