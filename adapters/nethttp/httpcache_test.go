package nethttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestHTTPCache(t *testing.T) {
	t.Parallel()
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), httpcache.Options{Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	h := nethttp.HTTPCacheWithOptions(nethttp.HTTPCacheOptions{
		Cache:   c,
		Skipper: func(r *http.Request) bool { return r.URL.Query().Has("skip") },
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "v")
	}))
	cases := []struct {
		target    string
		wantCalls int64
		wantCS    string
	}{
		{"/a", 1, "fwd=miss"},
		{"/a", 1, "hit"},
		{"/a?skip", 2, ""},
		{"/a?skip", 3, ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com"+tc.target, nil))
		if w.Body.String() != "v" || calls.Load() != tc.wantCalls {
			t.Errorf("%s: got %q after %d calls, want v after %d", tc.target, w.Body.String(), calls.Load(), tc.wantCalls)
		}
		if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, tc.wantCS) || (tc.wantCS == "" && cs != "") {
			t.Errorf("%s: Cache-Status got %q, want %q", tc.target, cs, tc.wantCS)
		}
	}
}

func TestHTTPCacheNilPanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(p.(string), "nethttp:") {
			t.Errorf("nil cache: got panic %v, want one prefixed nethttp:", p)
		}
	}()
	nethttp.HTTPCache(nil)
}
