package echoadapter_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// cacheOrigin answers like an application route: the response depends on
// the path, a query parameter and headers that decide cacheability.
func cacheOrigin(calls *atomic.Int64) http.Handler {
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
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Header.Get("Accept-Language"))
	})
}

type adapterStep struct {
	method, target string
	hdr            []string
}

var adapterTable = []adapterStep{
	{"GET", "/p?cc=max-age%3D60", nil},
	{"GET", "/p?cc=max-age%3D60", nil},
	{"HEAD", "/p?cc=max-age%3D60", nil},
	{"GET", "/p?cc=max-age%3D60", []string{"Cache-Control: no-cache"}},
	{"GET", "/e?cc=max-age%3D60&etag=v1", []string{`If-None-Match: "v1"`}},
	{"GET", "/e?cc=max-age%3D60&etag=v1", []string{`If-None-Match: "v1"`}},
	{"GET", "/e?cc=max-age%3D60&etag=v1", nil},
	{"GET", "/priv?cc=private%2C+max-age%3D60", nil},
	{"GET", "/priv?cc=private%2C+max-age%3D60", nil},
	{"GET", "/c?cc=max-age%3D60&cookie=1", nil},
	{"GET", "/c?cc=max-age%3D60&cookie=1", nil},
	{"GET", "/n?cc=max-age%3D60&status=404", nil},
	{"GET", "/n?cc=max-age%3D60&status=404", nil},
	{"POST", "/p?cc=max-age%3D60", nil},
	{"GET", "/p?cc=max-age%3D60", nil},
	{"GET", "/v?cc=max-age%3D60", []string{"Authorization: Bearer x"}},
	{"GET", "/v?cc=max-age%3D60", []string{"Cache-Control: only-if-cached"}},
	{"GET", "/err", nil},
	{"GET", "/err", nil},
}

// TestAdaptersEqual plays the same table through the net/http and the Echo
// middleware and requires identical answers and handler calls.
func TestAdaptersEqual(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	newCache := func() *httpcache.Cache {
		c, err := httpcache.New(core.NewFromRedis(rdb), httpcache.Options{Namespace: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var netCalls, echoCalls atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/", cacheOrigin(&netCalls))
	mux.HandleFunc("/err", func(w http.ResponseWriter, r *http.Request) {
		netCalls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`+"\n")
	})
	netH := nethttp.HTTPCache(newCache())(mux)

	e := echo.New()
	e.Use(echoadapter.HTTPCache(newCache()))
	e.Any("/*", echo.WrapHandler(cacheOrigin(&echoCalls)))
	e.GET("/err", func(c echo.Context) error {
		echoCalls.Add(1)
		c.Response().Header().Set("Cache-Control", "max-age=60")
		return echo.ErrNotFound // written by Echo's error handler, then cached
	})

	for i, s := range adapterTable {
		nw, ew := play(netH, s), play(e, s)
		for _, name := range []string{"Cache-Status", "Cache-Control", "Content-Type", "Content-Length", "ETag", "Set-Cookie", "Age"} {
			if nv, ev := nw.Header().Values(name), ew.Header().Values(name); strings.Join(nv, "|") != strings.Join(ev, "|") {
				t.Errorf("step %d %s %s: %s: net/http %q, echo %q", i, s.method, s.target, name, nv, ev)
			}
		}
		if nw.Code != ew.Code || nw.Body.String() != ew.Body.String() || strings.Join(nw.Header().Values("X-Multi"), ",") != strings.Join(ew.Header().Values("X-Multi"), ",") {
			t.Errorf("step %d %s %s: net/http %d %q, echo %d %q", i, s.method, s.target, nw.Code, nw.Body.String(), ew.Code, ew.Body.String())
		}
		if netCalls.Load() != echoCalls.Load() {
			t.Fatalf("step %d %s %s: handler calls: net/http %d, echo %d", i, s.method, s.target, netCalls.Load(), echoCalls.Load())
		}
	}
	if got, want := echoCalls.Load(), int64(12); got != want {
		t.Errorf("handler calls for the table: got %d, want %d", got, want)
	}
}

func play(h http.Handler, s adapterStep) *httptest.ResponseRecorder {
	r := httptest.NewRequest(s.method, "http://example.com"+s.target, nil)
	for _, line := range s.hdr {
		k, v, _ := strings.Cut(line, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHTTPCacheSkipperAndBackground(t *testing.T) {
	t.Parallel()
	c, err := httpcache.New(core.NewFromRedis(redistest.Standalone(t)), httpcache.Options{Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	e := echo.New()
	cfg := echoadapter.DefaultHTTPCacheConfig
	cfg.Cache = c
	cfg.Skipper = func(c echo.Context) bool { return c.QueryParam("skip") != "" }
	e.Use(echoadapter.HTTPCacheWithConfig(cfg))
	e.GET("/items/:id", func(c echo.Context) error {
		n := calls.Add(1)
		c.Response().Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
		c.Response().Header().Set("ETag", `"x"`)
		return c.String(http.StatusOK, c.Param("id")+"#"+strconv.FormatInt(n, 10))
	})
	if w := play(e, adapterStep{"GET", "/items/7?skip=1", nil}); w.Header().Get("Cache-Status") != "" {
		t.Errorf("skipped request: got Cache-Status %q, want none", w.Header().Get("Cache-Status"))
	}
	play(e, adapterStep{"GET", "/items/7", nil})
	w := play(e, adapterStep{"GET", "/items/7", nil})
	if w.Body.String() != "7#2" || !strings.Contains(w.Header().Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("stale response: got %q %q, want 7#2 served stale", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	// The background revalidation runs on a fresh echo.Context with the
	// route's parameters (the request's own context was recycled).
	for deadline := time.Now().Add(5 * time.Second); calls.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if calls.Load() != 3 {
		t.Fatalf("background revalidation: got %d handler calls, want 3", calls.Load())
	}
	for deadline := time.Now().Add(5 * time.Second); c.Stats().Stored < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if w := play(e, adapterStep{"GET", "/items/7", []string{"Cache-Control: max-stale"}}); w.Body.String() != "7#3" {
		t.Errorf("after background revalidation: got %q, want 7#3 (path parameter kept)", w.Body.String())
	}
}

func TestHTTPCacheNilPanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(p.(string), "echoadapter:") {
			t.Errorf("nil cache: got panic %v, want one prefixed echoadapter:", p)
		}
	}()
	echoadapter.HTTPCache(nil)
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
		return func(c echo.Context) error {
			before := c.QueryParam("utm") // Echo caches the parsed query in c
			err := next(c)
			outerSaw = append(outerSaw, before+"|"+c.QueryParam("utm")+"|"+c.QueryParams().Encode())
			return err
		}
	})
	e.Use(echoadapter.HTTPCache(c))
	e.GET("/p", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=60")
		return c.String(http.StatusOK, "utm="+c.QueryParam("utm")+" id="+c.QueryParam("id")+" all="+c.QueryParams().Encode())
	})
	for i, tc := range []struct{ target, body, outer string }{
		{"/p?utm=evil&id=1", "utm= id=1 all=id=1", "evil|evil|id=1&utm=evil"},
		{"/p?id=1", "utm= id=1 all=id=1", "||id=1"},
		{"/p?id=1&utm=other", "utm= id=1 all=id=1", "other|other|id=1&utm=other"},
	} {
		w := play(e, adapterStep{"GET", tc.target, nil})
		if w.Body.String() != tc.body {
			t.Errorf("step %d GET %s: got body %q, want %q", i, tc.target, w.Body.String(), tc.body)
		}
		if got := outerSaw[len(outerSaw)-1]; got != tc.outer {
			t.Errorf("step %d GET %s: outer middleware after the cache saw %q, want %q (its own query restored)", i, tc.target, got, tc.outer)
		}
	}
}
