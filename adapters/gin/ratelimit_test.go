package ginadapter_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// wantPanic fails t unless fn panics with a message prefixed ginadapter:.
func wantPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if p, _ := recover().(string); !strings.HasPrefix(p, "ginadapter:") {
			t.Errorf("%s: got panic %q, want one prefixed ginadapter:", what, p)
		}
	}()
	fn()
}

func TestRateLimitInvalidConfigPanics(t *testing.T) {
	wantPanic(t, "nil limiter", func() { ginadapter.RateLimit(nil) })
}

// A denied request aborts the chain: the handlers after the middleware do
// not run, and a middleware before it sees the status that was sent (Gin's
// own writer, c.Writer.Status()) and c.IsAborted().
func TestRateLimitAbortsTheChain(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(redistest.Standalone(t)),
		ratelimit.Options{Limit: 1, Window: time.Hour, Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	var handled int
	var seen []string
	e := gin.New()
	e.Use(func(c *gin.Context) {
		c.Next()
		seen = append(seen, http.StatusText(c.Writer.Status())+map[bool]string{true: " aborted"}[c.IsAborted()])
	})
	e.Use(ginadapter.RateLimit(l))
	e.Use(func(c *gin.Context) { handled++ })
	e.GET("/", func(c *gin.Context) { handled++; c.String(http.StatusOK, "ok") })
	for range 2 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if handled != 2 || len(seen) != 2 || seen[0] != "OK" || seen[1] != "Too Many Requests aborted" {
		t.Errorf("got %d handler calls and outer middleware saw %q, want 2 calls and [OK, Too Many Requests aborted]", handled, seen)
	}
}
