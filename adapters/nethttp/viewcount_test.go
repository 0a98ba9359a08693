package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

func newViewCounter(t *testing.T) *viewcount.Counter {
	t.Helper()
	c, err := viewcount.New(core.NewFromRedis(redistest.Standalone(t)), viewcount.Options{
		Secret: []byte("adapter-test-secret-0123"), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The middleware sees the status the handler sent, however it sent it.
func TestViewCountStatusCapture(t *testing.T) {
	t.Parallel()
	c := newViewCounter(t)
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{
		Visitor: viewcount.VisitorCookie(viewcount.CookieOptions{Insecure: true}),
	})
	if err != nil {
		t.Fatal(err)
	}
	mw := nethttp.ViewCount(tr)
	for _, tt := range []struct {
		path    string
		handler http.HandlerFunc
		want    int64
	}{
		{"/implicit-200", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }, 1},
		{"/nothing-written", func(w http.ResponseWriter, r *http.Request) {}, 1},
		{"/flushed", func(w http.ResponseWriter, r *http.Request) { w.(http.Flusher).Flush() }, 1},
		{"/controller", func(w http.ResponseWriter, r *http.Request) {
			_ = http.NewResponseController(w).Flush()
		}, 1},
		{"/early-hints", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, 0},
		{"/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", http.StatusInternalServerError) }, 0},
		{"/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) }, 0},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, tt.path, nil)
		r.Header.Set("User-Agent", "Mozilla/5.0 Firefox/128.0")
		mw(tt.handler).ServeHTTP(w, r)
		if !strings.Contains(w.Header().Get("Set-Cookie"), "vcid=") {
			t.Errorf("%s: got Set-Cookie %q, want the visitor cookie", tt.path, w.Header().Get("Set-Cookie"))
		}
		s, err := c.Counts(context.Background(), tt.path, 1)
		if err != nil || s.Total != tt.want {
			t.Errorf("%s: got total %d, %v, want %d", tt.path, s.Total, err, tt.want)
		}
	}
}

func TestViewCountPanicsWithoutTracker(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "nethttp:") {
			t.Fatalf("got panic %v, want one prefixed nethttp:", r)
		}
	}()
	nethttp.ViewCount(nil)
}
