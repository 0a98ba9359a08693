package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// TestRateLimitDefaultOnErrorLogs: without OnError, the failures the
// middleware fails open on are Warn records through slog.Default(), at most
// one per second, never with the query. Not parallel: it replaces
// slog.Default().
func TestRateLimitDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1})), ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	h := nethttp.RateLimit(l)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 4 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?token=do-not-log", nil))
		if w.Code != http.StatusOK || w.Header().Get("RateLimit") != "" {
			t.Errorf("fail open: got %d with RateLimit %q, want 200 without it", w.Code, w.Header().Get("RateLimit"))
		}
	}
	got := logs.String()
	if n := strings.Count(got, `level=WARN msg="ratelimit: redis failure" err=`); n < 1 || n > 2 {
		t.Errorf("log: got %d Warn records, want 1 (or 2 if a second passed) for 4 failures:\n%s", n, got)
	}
	if strings.Contains(got, "do-not-log") {
		t.Errorf("log: got %q, want no query", got)
	}
	if st := l.Stats(); st.Errors != 4 {
		t.Errorf("Stats: got %+v, want 4 errors", st)
	}
}

func TestRateLimitPanicsOnBadConfig(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r)[:8] != "nethttp:" {
			t.Errorf("got panic %v, want one prefixed nethttp:", r)
		}
	}()
	nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{})
}
