package echoadapter_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// viewRequests is the table both adapters must count identically.
var viewRequests = []struct {
	method, path, remote, ua string
}{
	{"GET", "/posts/a", "203.0.113.1:1", browserUA},
	{"GET", "/posts/a", "203.0.113.1:2", browserUA}, // reload: same visitor
	{"GET", "/posts/a", "203.0.113.1:3", browserUA},
	{"GET", "/posts/a", "203.0.113.2:1", browserUA},
	{"GET", "/posts/b?status=500", "203.0.113.1:1", browserUA},
	{"GET", "/posts/b?status=404", "203.0.113.3:1", browserUA},
	{"POST", "/posts/b", "203.0.113.1:1", browserUA},
	{"GET", "/posts/c", "203.0.113.1:1", "Mozilla/5.0 (compatible; Googlebot/2.1)"},
	{"GET", "/posts/c", "203.0.113.4:1", browserUA},
	{"GET", "/posts/d?err=1", "203.0.113.1:1", browserUA},
	{"GET", "/posts/skipped", "203.0.113.1:1", browserUA},
}

var wantStats = map[string][3]int64{ // total, unique, bots
	"a": {2, 2, 0}, "b": {0, 0, 0}, "c": {1, 1, 1}, "d": {0, 0, 0}, "skipped": {0, 0, 0},
}

func newTracker(t *testing.T) (*viewcount.Counter, *viewcount.Tracker) {
	t.Helper()
	var errs []error
	c, err := viewcount.New(core.NewFromRedis(redistest.Standalone(t)), viewcount.Options{
		Secret: []byte("adapter-test-secret-0123"), Namespace: redistest.Prefix(t),
		OnError: func(_ context.Context, err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("id")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(errs) > 0 {
			t.Errorf("counting errors: %v", errs)
		}
	})
	return c, tr
}

func status(r *http.Request) int {
	if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
		return s
	}
	return http.StatusOK
}

func echoServer(tr *viewcount.Tracker) http.Handler {
	e := echo.New()
	e.Use(echoadapter.ViewCountWithConfig(echoadapter.ViewCountConfig{
		Tracker: tr,
		Skipper: func(c echo.Context) bool { return c.Param("id") == "skipped" },
	}))
	h := func(c echo.Context) error {
		if c.QueryParam("err") != "" {
			return echo.NewHTTPError(http.StatusNotFound, "no such post")
		}
		return c.String(status(c.Request()), "post "+c.Param("id"))
	}
	e.GET("/posts/:id", h)
	e.POST("/posts/:id", h)
	return e
}

func netHTTPServer(tr *viewcount.Tracker) http.Handler {
	mw := nethttp.ViewCountWithOptions(nethttp.ViewCountOptions{
		Tracker: tr,
		Skipper: func(r *http.Request) bool { return r.PathValue("id") == "skipped" },
	})
	mux := http.NewServeMux()
	mux.Handle("/posts/{id}", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("err") != "" {
			http.Error(w, "no such post", http.StatusNotFound)
			return
		}
		w.WriteHeader(status(r))
		fmt.Fprint(w, "post "+r.PathValue("id"))
	})))
	return mux
}

// TestAdaptersCountAlike sends the same requests through Echo and net/http:
// both record the same views.
func TestAdaptersCountAlike(t *testing.T) {
	t.Parallel()
	got := map[string]map[string][3]int64{}
	for name, build := range map[string]func(*viewcount.Tracker) http.Handler{"echo": echoServer, "nethttp": netHTTPServer} {
		c, tr := newTracker(t)
		srv := build(tr)
		for _, rq := range viewRequests {
			r := httptest.NewRequest(rq.method, rq.path, nil)
			r.RemoteAddr, r.Header["User-Agent"] = rq.remote, []string{rq.ua}
			srv.ServeHTTP(httptest.NewRecorder(), r)
		}
		got[name] = map[string][3]int64{}
		for item := range wantStats {
			s, err := c.Counts(context.Background(), item, 1)
			if err != nil {
				t.Fatal(err)
			}
			got[name][item] = [3]int64{s.Total, s.Unique, s.Bots}
		}
	}
	for item, want := range wantStats {
		if got["echo"][item] != want || got["nethttp"][item] != want {
			t.Errorf("%s: got echo %v nethttp %v, want %v", item, got["echo"][item], got["nethttp"][item], want)
		}
	}
}

func TestViewCountDefaultsAndPanics(t *testing.T) {
	t.Parallel()
	c, _ := newTracker(t)
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{}) // item: URL path
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(echoadapter.ViewCount(tr))
	e.GET("/page", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r.Header.Set("User-Agent", browserUA)
	e.ServeHTTP(httptest.NewRecorder(), r)
	if s, err := c.Counts(context.Background(), "/page", 1); err != nil || s.Total != 1 {
		t.Fatalf("Stats(/page): got %+v, %v, want total 1", s, err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("ViewCountWithConfig without Tracker: got no panic, want one")
		}
	}()
	echoadapter.ViewCountWithConfig(echoadapter.ViewCountConfig{})
}
