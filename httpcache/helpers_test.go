package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

// clock is a fake clock for freshness: tests advance it instead of
// sleeping. It starts on a whole second so Date headers are exact.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration)         { c.ns.Add(int64(d)) }
func (c *clock) HTTPDate(d time.Duration) string { return c.Now().Add(d).UTC().Format(http.TimeFormat) }

// newCache builds a Cache on rdb under a test-unique namespace.
func newCache(t testing.TB, rdb redis.UniversalClient, prefix string, opts httpcache.Options, clk *clock) *httpcache.Cache {
	t.Helper()
	opts.Namespace = prefix
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	c, err := httpcache.New(coreClient(rdb), opts)
	if err != nil {
		t.Fatalf("New: got %v, want nil", err)
	}
	if clk != nil {
		httpcache.SetClock(c, clk.Now)
	}
	return c
}

// resp is a response the scripted origin gives. Header values may use
// {date} (the clock's now) and {date+N} / {date-N} (N seconds).
type resp struct {
	status int
	hdr    []string // "Name: value", repeated names give several values
	body   string
	// unreachable: the handler reports the origin unreachable
	// (httpcache.OriginUnreachable) before writing its response.
	unreachable bool
}

// origin is a scripted handler that records the requests it got.
type origin struct {
	clk   *clock
	mu    sync.Mutex
	next  resp
	calls int
	seen  []http.Header
	hosts []string
}

func (o *origin) set(r resp) {
	o.mu.Lock()
	o.next = r
	o.mu.Unlock()
}

func (o *origin) Calls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

func (o *origin) last() (http.Header, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		return http.Header{}, ""
	}
	return o.seen[len(o.seen)-1], o.hosts[len(o.hosts)-1]
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.calls++
	o.seen = append(o.seen, r.Header.Clone())
	o.hosts = append(o.hosts, r.Host)
	rs := o.next
	o.mu.Unlock()
	for _, line := range rs.hdr {
		name, val, _ := strings.Cut(line, ":")
		w.Header().Add(name, o.expand(strings.TrimSpace(val)))
	}
	if rs.status == 0 {
		rs.status = http.StatusOK
	}
	if rs.unreachable && !httpcache.OriginUnreachable(w) {
		panic("OriginUnreachable: got false for the cache's writer")
	}
	body := strings.NewReplacer("{host}", r.Host, "{xfh}", r.Header.Get("X-Forwarded-Host"),
		"{query}", r.URL.RawQuery).Replace(rs.body)
	w.WriteHeader(rs.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

func (o *origin) expand(v string) string {
	if !strings.HasPrefix(v, "{date") {
		return v
	}
	var d time.Duration
	if n := strings.Trim(v, "{}date"); n != "" {
		sign := time.Duration(1)
		if n[0] == '-' {
			sign = -1
		}
		secs, _ := time.ParseDuration(strings.TrimLeft(n, "+-") + "s")
		d = sign * secs
	}
	return o.clk.HTTPDate(d)
}

// do sends one request through h and returns the recorded response.
func do(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for _, line := range hdr {
		name, val, _ := strings.Cut(line, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if strings.EqualFold(name, "Host") {
			r.Host = val
			continue
		}
		r.Header.Add(name, val)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// poll waits for cond: the suite's one bounded poll (5 s).
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	redistest.Eventually(t, 5*time.Second, what, cond)
}

// cached is next behind c, as the net/http adapter serves it.
func cached(c *httpcache.Cache, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.Serve(w, r, next) })
}

// coreClient wraps rdb with a request budget of testBudget.
func coreClient(rdb redis.UniversalClient) *core.Client {
	return core.NewFromRedis(rdb).WithRequestBudget(testBudget)
}

// testBudget is the request budget of the tests' caches: generous like
// their 2 s Timeout, so a loaded machine (-race) does not fail requests
// open. TestRequestBudget checks a short one.
const testBudget = 10 * time.Second

// cmdHook is a go-redis hook calling fn around every command, and around
// every command of a pipeline (fn's error then fails the whole pipeline).
type cmdHook func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error

func (h cmdHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h cmdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { return h(ctx, cmd, next) }
}

func (h cmdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			pass := func(context.Context, redis.Cmder) error { return nil }
			if err := h(ctx, cmd, pass); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// hookedClient is a client of its own to target with hook h.
func hookedClient(t *testing.T, target redistest.Target, h cmdHook) redis.UniversalClient {
	rdb := redistest.NewClient(t, target)
	rdb.AddHook(h)
	return rdb
}

// cmdIs reports whether cmd is the named command on key.
func cmdIs(cmd redis.Cmder, name, key string) bool {
	return cmd.Name() == name && cmdKey(cmd) == key
}

// cmdKey returns the first key of cmd: its first argument, or for EVAL and
// EVALSHA the first of KEYS ("" if none).
func cmdKey(cmd redis.Cmder) string {
	args, i := cmd.Args(), 1
	if n := cmd.Name(); n == "eval" || n == "evalsha" {
		i = 3
	}
	if len(args) <= i {
		return ""
	}
	return fmt.Sprint(args[i])
}

// genOf returns the generation number stored for the namespace prefix (read
// after the cache served a request, so that it exists), as used in keys.
func genOf(t testing.TB, rdb redis.UniversalClient, prefix string) string {
	t.Helper()
	g, err := rdb.Get(context.Background(), prefix+":gen").Result()
	if err != nil {
		t.Fatalf("generation of %s: got %v, want a number", prefix, err)
	}
	return g
}
