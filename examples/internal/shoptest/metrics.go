package shoptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/internal/redistest"
)

// Metrics checks the service's -metrics endpoint (shop.Metrics): a scripted
// sequence of requests gives exact counter values in the Prometheus scrape.
func Metrics(t *testing.T, build Build) {
	t.Parallel()
	m, err := shop.NewMetrics(core.NewFromRedis(redistest.Standalone(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	svc, err := shop.New(m.Client(), Config(redistest.Prefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(t.Context()) })
	if err := m.Register(svc); err != nil {
		t.Fatal(err)
	}
	routes, err := build(svc)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(routes)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "192.0.2.50:1"
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		h.ServeHTTP(w, r)
		return w
	}
	get("/products/1") // memo miss and load, cache miss and store
	get("/products/1") // cache hit
	for range RateLimit + 1 {
		get("/api/limited") // RateLimit allowed, one denied
	}
	get("/articles/hello-redis") // one view, flushed within the flush interval
	var scrape string
	redistest.Eventually(t, 5*time.Second, "the view flushed", func() bool {
		w := get("/metrics")
		b, _ := io.ReadAll(w.Body)
		scrape = string(b)
		return w.Code == http.StatusOK && strings.Contains(scrape, `rediskit_viewcount_flushed_total{`) &&
			counter(scrape, "rediskit_viewcount_flushed_total") == "1"
	})
	for name, want := range map[string]string{
		"rediskit_memo_misses_total":        "1",
		"rediskit_memo_loads_total":         "1",
		"rediskit_httpcache_misses_total":   "1",
		"rediskit_httpcache_hits_total":     "1",
		"rediskit_httpcache_stored_total":   "1",
		"rediskit_ratelimit_allowed_total":  strconv.Itoa(RateLimit),
		"rediskit_ratelimit_denied_total":   "1",
		"rediskit_ratelimit_errors_total":   "0",
		"rediskit_viewcount_recorded_total": "1",
		"rediskit_viewcount_flushed_total":  "1",
	} {
		if got := counter(scrape, name); got != want {
			t.Errorf("%s: got %q, want %s", name, got, want)
		}
	}
	if !strings.Contains(scrape, `rediskit_redis_wait_seconds_count{`) {
		t.Errorf("scrape: got no rediskit_redis_wait_seconds histogram:\n%s", scrape)
	}
}

// counter returns the value of the one sample of name in a Prometheus
// text scrape ("" when absent).
func counter(scrape, name string) string {
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, name+"{") {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}
