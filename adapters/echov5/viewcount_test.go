package echov5adapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/rediskit/rediskit/adapters/echov5"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

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

func TestViewCountDefaultsAndPanics(t *testing.T) {
	t.Parallel()
	c, _ := newTracker(t)
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{}) // item: URL path
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(echov5adapter.ViewCount(tr))
	e.GET("/page", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) })
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r.Header.Set("User-Agent", browserUA)
	e.ServeHTTP(httptest.NewRecorder(), r)
	if s, err := c.Counts(context.Background(), "/page", 1); err != nil || s.Total != 1 {
		t.Fatalf("Counts(/page): got %+v, %v, want total 1", s, err)
	}
	if _, err := (echov5adapter.ViewCountConfig{}).ToMiddleware(); err == nil {
		t.Error("ToMiddleware without a Tracker: got nil error, want one")
	}
	defer func() {
		if p, _ := recover().(string); !strings.HasPrefix(p, "echov5adapter: ") {
			t.Errorf("ViewCountWithConfig without Tracker: got panic %q, want one prefixed echov5adapter:", p)
		}
	}()
	echov5adapter.ViewCountWithConfig(echov5adapter.ViewCountConfig{})
}

// On a context made without an Echo (echo.NewContext, as in handler
// tests) a handler's error still gets its status, and nothing panics.
func TestViewCountContextWithoutEcho(t *testing.T) {
	t.Parallel()
	c, tr := newTracker(t)
	mw := echov5adapter.ViewCount(tr)
	r := httptest.NewRequest(http.MethodGet, "/posts/a", nil)
	r.Header.Set("User-Agent", browserUA)
	w := httptest.NewRecorder()
	ec := echo.NewContext(r, w)
	ec.SetPathValues(echo.PathValues{{Name: "id", Value: "a"}})
	if err := mw(func(*echo.Context) error { return echo.ErrNotFound })(ec); err != nil || w.Code != http.StatusNotFound {
		t.Errorf("got %v and status %d, want nil and 404", err, w.Code)
	}
	if s, err := c.Counts(context.Background(), "a", 1); err != nil || s.Total != 0 {
		t.Errorf("Counts(a): got %+v, %v, want nothing counted", s, err)
	}
}
