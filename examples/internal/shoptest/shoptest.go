// Package shoptest walks the example services' routes over HTTP and checks
// the numbers, so the net/http, Echo and Gin services are held to one
// contract.
package shoptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// Build routes a Service's endpoints, as each example service does.
type Build func(*shop.Service) (http.Handler, error)

// RateLimit and RateWindow are the limits Config sets for the walk.
const (
	RateLimit  = 5
	RateWindow = time.Minute
)

// Config is the shop configuration Walk expects: the default limits, a
// short flush interval, and 127.0.0.1 trusted as a proxy so the walk can
// present a second visitor through X-Forwarded-For.
func Config(namespace string) shop.Config {
	return shop.Config{
		Namespace:      namespace,
		RateLimit:      RateLimit,
		RateWindow:     RateWindow,
		FlushInterval:  20 * time.Millisecond,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}
}

// Routes walks every route of the service build routes, on real Redis,
// standalone and cluster.
func Routes(t *testing.T, build Build) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		Serve(t, core.NewFromRedis(tc.RDB), tc.Prefix, build)
	})
}

// Serve builds the service on c with Config(ns), requires its start-up
// check to pass, serves the routes build returns and walks them.
func Serve(t *testing.T, c *core.Client, ns string, build Build) {
	t.Helper()
	svc, err := shop.New(c, Config(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(t.Context())
	if err := svc.Check(t.Context()); err != nil {
		t.Fatalf("start-up check: got %v, want nil", err)
	}
	handler, err := build(svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	walk(t, srv.URL)
}

// walk exercises every route of a service listening at base.
func walk(t *testing.T, base string) {
	t.Run("healthz", func(t *testing.T) {
		expectStatus(t, do(t, "GET", base+"/healthz", "", nil), http.StatusOK)
	})
	t.Run("products", func(t *testing.T) { walkProducts(t, base) })
	t.Run("rate limit", func(t *testing.T) { walkRateLimit(t, base) })
	t.Run("articles", func(t *testing.T) { walkArticles(t, base) })
	t.Run("errors", func(t *testing.T) { walkErrors(t, base) })
}

// walkErrors checks that ids over shop.MaxIDBytes and ids with control
// characters are rejected with 400 and not echoed whole, and that every
// error answer, the router's own 404 and 405 included, is {"error": "..."}.
func walkErrors(t *testing.T, base string) {
	long := strings.Repeat("x", 100_000)
	atCap := strings.Repeat("y", shop.MaxIDBytes)
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/products/" + long, "", http.StatusBadRequest},
		{"PUT", "/products/" + long, `{"name":"x","price_cents":1}`, http.StatusBadRequest},
		{"GET", "/articles/" + long, "", http.StatusBadRequest},
		{"GET", "/articles/" + long + "/views", "", http.StatusBadRequest},
		{"GET", "/products/" + atCap, "", http.StatusNotFound}, // at the cap: allowed, unknown
		{"GET", "/products/a%00b", "", http.StatusBadRequest},
		{"PUT", "/products/a%00b", `{"name":"x","price_cents":1}`, http.StatusBadRequest},
		{"GET", "/products/a%0Ab", "", http.StatusBadRequest},
		{"GET", "/articles/a%00b", "", http.StatusBadRequest},
		{"GET", "/articles/a%07b/views", "", http.StatusBadRequest},
		{"GET", "/products/404", "", http.StatusNotFound},
		{"GET", "/no-such-route", "", http.StatusNotFound},
		{"DELETE", "/products/1", "", http.StatusMethodNotAllowed},
		{"POST", "/healthz", "", http.StatusMethodNotAllowed},
		{"GET", "/articles/top?n=0", "", http.StatusBadRequest},
		{"PUT", "/products/1", `{"name":`, http.StatusBadRequest},
		{"GET", "/api/limited", "", http.StatusTooManyRequests}, // the rate-limit walk spent the quota
	}
	for _, c := range cases {
		name := c.method + " " + c.path
		if len(name) > 60 {
			name = name[:60] + "…"
		}
		res := do(t, c.method, base+c.path, c.body, nil)
		if res.status != c.want {
			t.Errorf("%s: got status %d, want %d", name, res.status, c.want)
		}
		if strings.Contains(res.body, strings.Repeat("x", shop.MaxIDBytes+1)) || len(res.body) > 1024 {
			t.Errorf("%s: the %d-byte body echoes the id: %.200q", name, len(res.body), res.body)
		}
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q, want application/json", name, ct)
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(res.body), &e); err != nil {
			t.Errorf("%s: body %.200q is not JSON: %v", name, res.body, err)
			continue
		}
		// The rate limiter's 429 adds "message" and "retry_after" to "error".
		if msg, ok := e["error"].(string); !ok || msg == "" || (len(e) != 1 && c.want != http.StatusTooManyRequests) {
			t.Errorf("%s: body %.200q, want exactly {\"error\": \"...\"}", name, res.body)
		}
		if c.want == http.StatusMethodNotAllowed && res.header.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", name)
		}
	}
}

func walkProducts(t *testing.T, base string) {
	// 100 concurrent GETs of a cold product: one load.
	var wg sync.WaitGroup
	bodies := make([]string, 100)
	for i := range bodies {
		wg.Go(func() {
			res, err := try("GET", base+"/products/2", "", nil)
			if err != nil || res.status != http.StatusOK {
				t.Errorf("GET /products/2: got %d, %v, want 200", res.status, err)
			}
			bodies[i] = res.body
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("concurrent GETs disagree: %q vs %q", b, bodies[0])
		}
	}
	if got := loads(t, base); got != 1 {
		t.Errorf("product loads after 100 concurrent cold GETs: got %d, want 1", got)
	}
	res := do(t, "GET", base+"/products/2", "", nil)
	if !strings.Contains(res.header.Get("Cache-Status"), "hit") || res.header.Get("Age") == "" {
		t.Errorf("second GET: Cache-Status %q, Age %q, want a hit with an Age", res.header.Get("Cache-Status"), res.header.Get("Age"))
	}

	// Unknown ids: 404, negatively cached.
	for range 3 {
		expectStatus(t, do(t, "GET", base+"/products/404", "", nil), http.StatusNotFound)
	}
	if got := loads(t, base); got != 2 {
		t.Errorf("loads after three GETs of an unknown id: got %d, want 2 (not-found cached)", got)
	}

	// Bad updates are rejected and change nothing.
	bad := do(t, "PUT", base+"/products/2", `{"name":`, nil)
	expectStatus(t, bad, http.StatusBadRequest)
	if !strings.Contains(bad.body, "invalid product JSON") {
		t.Errorf("bad JSON: body %q, want a clear message", bad.body)
	}
	huge := `{"name":"` + strings.Repeat("x", shop.MaxBodyBytes) + `"}`
	expectStatus(t, do(t, "PUT", base+"/products/2", huge, nil), http.StatusRequestEntityTooLarge)

	// A good update is visible at once.
	expectStatus(t, do(t, "PUT", base+"/products/2", `{"name":"Gooseneck kettle","price_cents":5200}`, nil), http.StatusOK)
	after := do(t, "GET", base+"/products/2", "", nil)
	var p shop.Product
	decode(t, after, &p)
	if p.Name != "Gooseneck kettle" || p.PriceCents != 5200 {
		t.Errorf("GET after PUT: got %+v, want the new name and price", p)
	}
}

func walkRateLimit(t *testing.T, base string) {
	for i := 1; i <= RateLimit; i++ {
		res := do(t, "GET", base+"/api/limited", "", nil)
		expectStatus(t, res, http.StatusOK)
		if got := res.header.Get("RateLimit-Policy"); got != `"default";q=5;w=60` {
			t.Errorf("request %d: RateLimit-Policy %q, want \"default\";q=5;w=60", i, got)
		}
		if got := res.header.Get("RateLimit"); !strings.HasPrefix(got, `"default";r=`) {
			t.Errorf("request %d: RateLimit %q", i, got)
		}
	}
	res := do(t, "GET", base+"/api/limited", "", nil)
	expectStatus(t, res, http.StatusTooManyRequests)
	if res.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// 127.0.0.1 is a trusted proxy in this configuration, so a client it
	// forwards gets its own bucket. (That an untrusted peer cannot pick its
	// bucket with X-Forwarded-For is tested in ratelimit and clientip.)
	other := do(t, "GET", base+"/api/limited", "", http.Header{"X-Forwarded-For": {"198.51.100.9"}})
	expectStatus(t, other, http.StatusOK)
}

// articleViews is the JSON of GET /articles/{slug}/views.
type articleViews struct{ Total, Unique, Today int64 }

func walkArticles(t *testing.T, base string) {
	for range 50 { // reloads inside the dedup window count once
		expectStatus(t, do(t, "GET", base+"/articles/hello-redis", "", nil), http.StatusOK)
	}
	second := http.Header{"X-Forwarded-For": {"203.0.113.5"}}
	expectStatus(t, do(t, "GET", base+"/articles/hello-redis", "", second), http.StatusOK)
	expectStatus(t, do(t, "GET", base+"/articles/rate-limits", "", nil), http.StatusOK)
	expectStatus(t, do(t, "GET", base+"/articles/no-such-article", "", nil), http.StatusNotFound)

	var views articleViews
	waitFor(t, func() bool {
		decode(t, do(t, "GET", base+"/articles/hello-redis/views", "", nil), &views)
		return views.Total >= 2
	})
	if views != (articleViews{Total: 2, Unique: 2, Today: 2}) {
		t.Errorf("views of hello-redis: got %+v, want total 2, unique 2, today 2", views)
	}
	var top struct{ Top []viewcount.Ranked }
	waitFor(t, func() bool {
		decode(t, do(t, "GET", base+"/articles/top?n=10", "", nil), &top)
		return len(top.Top) >= 2
	})
	if len(top.Top) != 2 || top.Top[0] != (viewcount.Ranked{Item: "hello-redis", Views: 2}) || top.Top[1].Item != "rate-limits" {
		t.Errorf("top: got %+v, want hello-redis (2) then rate-limits (1)", top.Top)
	}
	expectStatus(t, do(t, "GET", base+"/articles/top?n=abc", "", nil), http.StatusBadRequest)
	expectStatus(t, do(t, "GET", base+"/articles/no-such-article/views", "", nil), http.StatusNotFound)
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request and fails the test on a transport error; call it from
// the test's goroutine only (try is for other goroutines).
func do(t *testing.T, method, url, body string, header http.Header) response {
	t.Helper()
	res, err := try(method, url, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func try(method, url, body string, header http.Header) (response, error) {
	return send(http.DefaultClient, method, url, body, header)
}

// send sends one request with client and reads the whole answer.
func send(client *http.Client, method, url, body string, header http.Header) (response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

func expectStatus(t *testing.T, res response, want int) {
	t.Helper()
	if res.status != want {
		t.Errorf("got status %d (%s), want %d", res.status, strings.TrimSpace(res.body), want)
	}
}

func decode(t *testing.T, res response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(res.body), v); err != nil {
		t.Fatalf("decode %q: %v", res.body, err)
	}
}

func loads(t *testing.T, base string) int64 {
	t.Helper()
	var s struct {
		ProductLoads int64 `json:"product_loads"`
	}
	decode(t, do(t, "GET", base+"/stats/origin", "", nil), &s)
	return s.ProductLoads
}

// waitFor polls cond (buffered view counts land within a flush interval).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, "condition", cond)
}
