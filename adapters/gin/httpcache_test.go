package ginadapter_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestHTTPCacheNilPanics(t *testing.T) {
	wantPanic(t, "HTTPCache(nil)", func() { ginadapter.HTTPCache(nil) })
	wantPanic(t, "HTTPCacheWithConfig without Cache", func() { ginadapter.HTTPCacheWithConfig(ginadapter.HTTPCacheConfig{}) })
}

func newCache(t *testing.T, opts httpcache.Options) *httpcache.Cache {
	t.Helper()
	opts.Namespace = redistest.Prefix(t)
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Gin's ways of answering go through the cache: a status set with
// c.Status and no body is the status stored; c.JSON's body and headers are
// stored; a hit aborts the chain, and a middleware before the cache sees
// the status sent on Gin's own writer.
func TestHTTPCacheGinResponses(t *testing.T) {
	t.Parallel()
	calls := 0
	var outer []int
	e := gin.New()
	e.Use(func(c *gin.Context) { c.Next(); outer = append(outer, c.Writer.Status()) })
	e.Use(ginadapter.HTTPCache(newCache(t, httpcache.Options{})))
	e.GET("/gone", func(c *gin.Context) {
		calls++
		c.Header("Cache-Control", "max-age=60")
		c.Status(http.StatusGone)
	})
	e.GET("/json", func(c *gin.Context) {
		calls++
		c.Header("Cache-Control", "max-age=60")
		c.JSON(http.StatusCreated, gin.H{"n": calls})
	})
	for i, tc := range []struct {
		target, body, cacheStatus string
		status, calls             int
	}{
		{"/gone", "", "rediskit; fwd=miss; fwd-status=410; ttl=60; stored", 410, 1},
		{"/gone", "", "rediskit; hit; ttl=60", 410, 1},
		{"/json", `{"n":2}`, "rediskit; fwd=miss; fwd-status=201; ttl=60; stored", 201, 2},
		{"/json", `{"n":2}`, "rediskit; hit; ttl=60", 201, 2},
	} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com"+tc.target, nil))
		if w.Code != tc.status || w.Body.String() != tc.body || w.Header().Get("Cache-Status") != tc.cacheStatus || calls != tc.calls {
			t.Errorf("step %d GET %s: got %d %q (Cache-Status %q, %d calls), want %d %q (%q, %d calls)", i, tc.target,
				w.Code, w.Body.String(), w.Header().Get("Cache-Status"), calls, tc.status, tc.body, tc.cacheStatus, tc.calls)
		}
		if tc.target == "/json" && w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("step %d: Content-Type: got %q, want JSON's", i, w.Header().Get("Content-Type"))
		}
		if got := outer[len(outer)-1]; got != tc.status {
			t.Errorf("step %d: middleware before the cache saw status %d, want %d", i, got, tc.status)
		}
	}
}

// With IgnoreQuery, the handler's c.Query does not see an ignored
// parameter (the documented condition: nothing before the cache read the
// query).
func TestHTTPCacheIgnoreQuery(t *testing.T) {
	t.Parallel()
	e := gin.New()
	e.Use(ginadapter.HTTPCache(newCache(t, httpcache.Options{Keys: httpcache.KeyOptions{IgnoreQuery: []string{"utm"}}})))
	e.GET("/p", func(c *gin.Context) {
		c.Header("Cache-Control", "max-age=60")
		c.String(http.StatusOK, "utm=%s id=%s", c.Query("utm"), c.Query("id"))
	})
	for _, target := range []string{"/p?utm=evil&id=1", "/p?id=1"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com"+target, nil))
		if w.Body.String() != "utm= id=1" {
			t.Errorf("GET %s: got body %q, want %q", target, w.Body.String(), "utm= id=1")
		}
	}
}
