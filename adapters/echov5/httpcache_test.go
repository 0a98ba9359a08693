package echov5adapter_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/rediskit/rediskit/adapters/echov5"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestHTTPCacheNilPanics(t *testing.T) {
	if _, err := (echov5adapter.HTTPCacheConfig{}).ToMiddleware(); err == nil {
		t.Error("ToMiddleware without a Cache: got nil error, want one")
	}
	defer func() {
		if p, _ := recover().(string); !strings.HasPrefix(p, "echov5adapter: ") {
			t.Errorf("nil cache: got panic %q, want one prefixed echov5adapter:", p)
		}
	}()
	echov5adapter.HTTPCache(nil)
}

// An ignored query parameter never reaches the handler, also when a
// middleware before the cache made Echo parse (and cache) the query: else
// GET /p?utm=evil would store a body the key /p does not describe.
func TestHTTPCacheIgnoreQueryAfterEarlyQueryParam(t *testing.T) {
	t.Parallel()
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), httpcache.Options{
		Namespace: redistest.Prefix(t), Keys: httpcache.KeyOptions{IgnoreQuery: []string{"utm"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	var outerSaw []string
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			before := c.QueryParams().Get("utm") // Echo caches the parsed query in c
			err := next(c)
			outerSaw = append(outerSaw, before+"|"+c.QueryParam("utm")+"|"+c.QueryParams().Encode())
			return err
		}
	})
	e.Use(echov5adapter.HTTPCache(c))
	e.GET("/p", func(c *echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=60")
		return c.String(http.StatusOK, "utm="+c.QueryParam("utm")+" id="+c.QueryParam("id")+" all="+c.QueryParams().Encode())
	})
	for i, tc := range []struct{ target, body, outer string }{
		{"/p?utm=evil&id=1", "utm= id=1 all=id=1", "evil|evil|id=1&utm=evil"},
		{"/p?id=1", "utm= id=1 all=id=1", "||id=1"},
		{"/p?id=1&utm=other", "utm= id=1 all=id=1", "other|other|id=1&utm=other"},
	} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com"+tc.target, nil))
		if w.Body.String() != tc.body {
			t.Errorf("step %d GET %s: got body %q, want %q", i, tc.target, w.Body.String(), tc.body)
		}
		if got := outerSaw[len(outerSaw)-1]; got != tc.outer {
			t.Errorf("step %d GET %s: outer middleware after the cache saw %q, want %q (its own query restored)", i, tc.target, got, tc.outer)
		}
	}
}

// A handler that wrote its answer and then returned an error keeps its
// answer (Echo's error handler sees the handler's own response committed,
// though the cache holds it), and the cache stores what the client got.
func TestHTTPCacheErrorAfterWrite(t *testing.T) {
	t.Parallel()
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), httpcache.Options{Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(echov5adapter.HTTPCache(c))
	e.GET("/w", func(c *echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=60")
		_ = c.String(http.StatusOK, "written")
		return errors.New("after the answer")
	})
	for i, want := range []string{"rediskit; fwd=miss; fwd-status=200; ttl=60; stored", "rediskit; hit; ttl=60"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "http://example.com/w", nil))
		if w.Code != 200 || w.Body.String() != "written" || w.Header().Get("Cache-Status") != want {
			t.Errorf("step %d: got %d %q %q, want 200 \"written\" %q", i, w.Code, w.Body.String(), w.Header().Get("Cache-Status"), want)
		}
	}
}
