package shoptest

// Fault-scenario setup: a fixture running the whole example service on its
// own redis-server behind a fault-injecting proxy, HTTP helpers, and a log
// recorder classifying what the service reported. The scenarios are in
// faults.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// requestBound is the longest any request may take while Redis is slow or
// unreachable: the request budget all rediskit features of one request
// share (core.DefaultRequestBudget; shop keeps the default), plus the
// handler's own time (the origin's 50 ms product load) and slack for
// scheduling under -race on a loaded 2-core machine. Without the shared
// budget the per-call timeouts would add up (a cache lookup, a memo read,
// a memo write and a cache store: 1 s and more).
const requestBound = core.DefaultRequestBudget + 50*time.Millisecond + 450*time.Millisecond

// namespace is the key prefix of the service in every fault scenario; each
// scenario owns its redis-server, so one fixed name will do.
const namespace = "shop"

// fixture is one service on its own redis-server reached through a proxy.
type fixture struct {
	t      *testing.T
	server *redistest.Server
	proxy  *faultproxy.Proxy
	client *core.Client  // the service's client, through the proxy
	raw    *redis.Client // straight to the server, for setup and checks
	svc    *shop.Service
	web    *httptest.Server
	http   *http.Client
	logs   *logRecorder
	cfg    shop.Config
	once   sync.Once
}

// newFixture starts a redis-server with serverArgs, a proxy to it, and the
// service build routes, connected through the proxy.
func newFixture(t *testing.T, build Build, serverArgs ...string) *fixture {
	t.Helper()
	return newFixtureConfig(t, build, nil, serverArgs...)
}

// newFixtureConfig is newFixture with tune, when not nil, adjusting the
// service's configuration first.
func newFixtureConfig(t *testing.T, build Build, tune func(*shop.Config), serverArgs ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &logRecorder{}}
	f.server = redistest.StartServer(t, redistest.ServerOptions{Args: serverArgs})
	f.proxy = faultproxy.New(t, f.server.Addr())
	f.raw = f.server.Client(t, nil)
	f.serve(build, core.Config{URL: "redis://" + f.proxy.Addr()}, tune)
	return f
}

// serve connects the service build routes to Redis with conn (Config
// (namespace), adjusted by tune when not nil, and logging to f.logs), serves
// it on an httptest server, and shuts it all down at t.Cleanup.
func (f *fixture) serve(build Build, conn core.Config, tune func(*shop.Config)) {
	t := f.t
	t.Helper()
	var err error
	if f.client, err = core.New(conn); err != nil {
		t.Fatal(err)
	}
	f.cfg = Config(namespace)
	f.cfg.Logger = slog.New(f.logs)
	if tune != nil {
		tune(&f.cfg)
	}
	if f.svc, err = shop.New(f.client, f.cfg); err != nil {
		t.Fatal(err)
	}
	handler, err := build(f.svc)
	if err != nil {
		t.Fatal(err)
	}
	f.web = httptest.NewServer(handler)
	f.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		if f.proxy != nil {
			f.proxy.Restore()
		}
		if err := f.shutdown(5 * time.Second); err != nil {
			t.Errorf("closing the service: %v", err)
		}
	})
}

// shutdown stops the HTTP server, closes the service (flushing views within
// timeout) and the Redis client. Only the first call does anything.
func (f *fixture) shutdown(timeout time.Duration) (err error) {
	f.once.Do(func() {
		f.web.Close()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err = f.svc.Close(ctx)
		if cerr := f.client.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		f.http.CloseIdleConnections()
	})
	return err
}

// visitor is a request header presenting ip as the client through the
// trusted proxy 127.0.0.1.
func visitor(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

// request sends one request and reads the whole answer; it is safe to call
// from any goroutine.
func (f *fixture) request(method, path, body string, h http.Header) (response, time.Duration, error) {
	start := time.Now()
	res, err := send(f.http, method, f.web.URL+path, body, h)
	return res, time.Since(start), err
}

// get is a GET from the test goroutine that must answer within
// requestBound.
func (f *fixture) get(path string, h http.Header) response {
	f.t.Helper()
	res, d, err := f.request(http.MethodGet, path, "", h)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	if d > requestBound {
		f.t.Errorf("GET %s took %v, want at most %v", path, d.Round(time.Millisecond), requestBound)
	}
	return res
}

// expectProduct checks a 200 carrying the catalog's original product id.
func expectProduct(t *testing.T, res response, id string) {
	t.Helper()
	want, err := shop.NewCatalog(0).Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	expectStatus(t, res, http.StatusOK)
	var got shop.Product
	decode(t, res, &got)
	if got != want {
		t.Errorf("product %s: got %+v, want %+v", id, got, want)
	}
}

func isHit(res response) bool { return strings.Contains(res.header.Get("Cache-Status"), "hit") }

// waitViews polls GET /articles/{slug}/views until the total reaches want,
// then checks the counts are exactly want (every visitor distinct).
func (f *fixture) waitViews(slug string, want int64) {
	f.t.Helper()
	var v articleViews
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, _, err := f.request(http.MethodGet, "/articles/"+slug+"/views", "", nil)
		if err == nil && res.status == http.StatusOK {
			decode(f.t, res, &v)
			if v.Total >= want {
				break
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("views of %s: got %+v (last answer %d), want total %d within 5s", slug, v, res.status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v != (articleViews{Total: want, Unique: want, Today: want}) {
		f.t.Errorf("views of %s: got %+v, want total, unique and today %d", slug, v, want)
	}
}

// logRecorder is a slog.Handler keeping every record, so tests can check
// what the service reported.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	err   error // the first error-valued attribute
}

func (r logRecord) String() string { return fmt.Sprintf("%s %q err=%v", r.level, r.msg, r.err) }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && rec.err == nil {
			rec.err = err
		}
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

// mark is a position in the log; since returns the records after it.
func (l *logRecorder) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

func (l *logRecorder) since(mark int) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.recs[mark:]...)
}

// featureOf names the rediskit feature a record reports on, from the
// message shop logs it with and the error's package prefix.
func featureOf(r logRecord) string {
	text := r.msg
	if r.err != nil {
		text += " " + r.err.Error()
	}
	switch {
	case handlerMessages[r.msg]:
		return ""
	case r.msg == "memo":
		return "memo"
	case r.msg == "httpcache":
		return "httpcache"
	case errors.Is(r.err, ratelimit.ErrTimeout) || strings.Contains(text, "ratelimit"):
		return "ratelimit"
	case strings.Contains(text, "viewcount") || strings.HasPrefix(r.msg, "view"):
		return "viewcount"
	}
	return ""
}

// handlerMessages are those shop's net/http handlers log failures with
// (the Echo service logs them through Echo's logger instead).
var handlerMessages = map[string]bool{
	"load product": true, "update product": true, "article views": true, "top articles": true,
}

// count returns how many records match.
func count(recs []logRecord, match func(logRecord) bool) int {
	n := 0
	for _, r := range recs {
		if match(r) {
			n++
		}
	}
	return n
}

// isTimeout reports an error classified as a timeout: a context deadline,
// a socket deadline, or the limiter's timeout sentinel.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ratelimit.ErrTimeout) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// expectReported checks that each feature reported at least one failure
// among recs whose error satisfies cause.
func expectReported(t *testing.T, recs []logRecord, cause func(error) bool, features ...string) {
	t.Helper()
	for _, feat := range features {
		if count(recs, func(r logRecord) bool { return featureOf(r) == feat && r.err != nil && cause(r.err) }) == 0 {
			t.Errorf("%s: got no failure reported to the service's log, want at least one (records: %v)", feat, recs)
		}
	}
}

// expectNoHandlerErrors checks that no failure reached a handler, except
// under the allowed messages: shop logs those under the handler's own
// message ("load product", ...).
func expectNoHandlerErrors(t *testing.T, recs []logRecord, allowed ...string) {
	t.Helper()
	for _, r := range recs {
		if featureOf(r) == "" && !slices.Contains(allowed, r.msg) {
			t.Errorf("unexpected log record %v: a Redis failure reached a handler", r)
		}
	}
}

// forgetStored deletes every key of the fixture's own server, so the next
// requests start cold.
func (f *fixture) forgetStored() {
	f.t.Helper()
	if err := f.raw.FlushDB(context.Background()).Err(); err != nil {
		f.t.Fatal(err)
	}
}

// fillMemory stores a big value (768 KiB), then lowers maxmemory below what the
// server uses, so that every write is refused with OOM until the value is
// deleted. (Filling up to the limit instead would make which writes fail
// depend on their size and on connection buffers: Redis counts a
// command's query buffer before running it.)
func (f *fixture) fillMemory() {
	f.t.Helper()
	ctx := context.Background()
	chunk := strings.Repeat("x", 16<<10) // small commands: a big one would leave a big query buffer
	for range 48 {
		if err := f.raw.Append(ctx, "filler", chunk).Err(); err != nil {
			f.t.Fatal(err)
		}
	}
	mem, err := f.raw.InfoMap(ctx, "memory").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	var used int
	if _, err := fmt.Sscan(mem["Memory"]["used_memory"], &used); err != nil {
		f.t.Fatal(err)
	}
	if err := f.raw.ConfigSet(ctx, "maxmemory", strconv.Itoa(used-256<<10)).Err(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.raw.Set(ctx, "probe", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "OOM") {
		f.t.Fatalf("a write to the full server: got %v, want an OOM error", err)
	}
}
