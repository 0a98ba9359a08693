package echoadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
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
