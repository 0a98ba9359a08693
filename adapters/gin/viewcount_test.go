package ginadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

func TestViewCountNilPanics(t *testing.T) {
	wantPanic(t, "ViewCount(nil)", func() { ginadapter.ViewCount(nil) })
	wantPanic(t, "ViewCountWithConfig without Tracker", func() { ginadapter.ViewCountWithConfig(ginadapter.ViewCountConfig{}) })
}

// Gin holds a status set with c.Status until something is written; a
// handler that sets one and writes nothing still decides whether the view
// counts.
func TestViewCountStatusWithoutBody(t *testing.T) {
	t.Parallel()
	views, err := viewcount.New(core.NewFromRedis(redistest.Standalone(t)), viewcount.Options{
		Secret: []byte("adapter-test-secret-0123"), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(views, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("id")})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	e.GET("/posts/:id", ginadapter.ViewCount(tr), func(c *gin.Context) {
		if c.Param("id") == "gone" {
			c.Status(http.StatusGone)
			return
		}
		c.Status(http.StatusNoContent)
	})
	for _, tc := range []struct {
		id     string
		status int
		total  int64
	}{{"gone", http.StatusGone, 0}, {"empty", http.StatusNoContent, 1}} {
		r := httptest.NewRequest("GET", "/posts/"+tc.id, nil)
		r.Header.Set("User-Agent", browserUA)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		s, err := views.Counts(context.Background(), tc.id, 0)
		if w.Code != tc.status || err != nil || s.Total != tc.total {
			t.Errorf("GET /posts/%s: got %d and %d views (err %v), want %d and %d", tc.id, w.Code, s.Total, err, tc.status, tc.total)
		}
	}
}
