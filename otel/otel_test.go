package rediskitotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
	rediskitotel "github.com/rediskit/rediskit/otel"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// TestMain stops the redis-server processes the tests start.
func TestMain(m *testing.M) { redistest.Main(m) }

// setup returns an Instrumentation of a client on the shared standalone
// server, reporting to a manual reader and a span recorder.
func setup(t *testing.T, opts rediskitotel.Options) (*rediskitotel.Instrumentation, *sdkmetric.ManualReader, *tracetest.SpanRecorder) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	opts.MeterProvider, opts.TracerProvider = mp, tp
	inst, err := rediskitotel.Instrument(core.NewFromRedis(redistest.Standalone(t)), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	return inst, reader, rec
}

// collect reads every metric: sums and gauges by "<name>/<rediskit.name>",
// histogram counts by "<name>/<rediskit.feature>".
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	label := func(set attribute.Set) string {
		for _, k := range []attribute.Key{"rediskit.name", "rediskit.feature"} {
			if v, ok := set.Value(k); ok {
				return v.AsString()
			}
		}
		return ""
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != rediskitotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+"/"+label(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+"/"+label(p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+"/"+label(p.Attributes)] = float64(p.Count)
				}
			}
		}
	}
	return got
}

// A scripted sequence against real Redis gives exact counts, equal to the
// features' own Stats, and one span per load, decision, fetch and flush.
func TestScriptedSequence(t *testing.T) {
	t.Parallel()
	inst, reader, rec := setup(t, rediskitotel.Options{Redis: true})
	c := inst.Client()
	ctx := context.Background()
	ns := redistest.Prefix(t)

	// memo: one miss (a load), then two hits.
	user, err := memo.Wrap(c, "user", func(_ context.Context, id int) (string, error) { return "noah", nil },
		memo.Options{Namespace: ns + ":memo", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Memo("user", user); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := user.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}

	// ratelimit: limit 2, three requests.
	lim, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Namespace: ns + ":rl", Limit: 2, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.RateLimit("api", lim); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := lim.Allow(ctx, "client-1"); err != nil {
			t.Fatal(err)
		}
	}

	// httpcache: a miss (stored), then a hit.
	cache, err := httpcache.New(c, httpcache.Options{Namespace: ns + ":hc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.HTTPCache("pages", cache); err != nil {
		t.Fatal(err)
	}
	origin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write([]byte("hello"))
	})
	for range 2 {
		cache.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://example.com/p/1", nil), origin)
	}

	// viewcount: three views (one a repeat, deduplicated in the batch), one flush.
	views, err := viewcount.New(c, viewcount.Options{Namespace: ns + ":vc", Secret: []byte("0123456789abcdef0123456789abcdef"),
		Mode: viewcount.Buffered, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = views.Close(context.Background()) })
	if err := inst.ViewCount("articles", views); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"ann", "bob", "ann"} {
		if err := views.Record(ctx, "a1", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := views.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	got := collect(t, reader)
	ms, rs, hs, vs := user.Stats(), lim.Stats(), cache.Stats(), views.Stats()
	tests := []struct {
		metric string
		want   float64
		stats  float64 // the same number from Stats()
	}{
		{"rediskit.memo.misses/user", 1, float64(ms.Misses)},
		{"rediskit.memo.hits/user", 2, float64(ms.Hits)},
		{"rediskit.memo.loads/user", 1, float64(ms.Loads)},
		{"rediskit.memo.stale/user", 0, float64(ms.StaleServed)},
		{"rediskit.memo.errors/user", 0, float64(ms.Errors)},
		{"rediskit.ratelimit.allowed/api", 2, float64(rs.Allowed)},
		{"rediskit.ratelimit.denied/api", 1, float64(rs.Denied)},
		{"rediskit.ratelimit.local_denied/api", 0, float64(rs.LocalDenied)},
		{"rediskit.ratelimit.errors/api", 0, float64(rs.Errors)},
		{"rediskit.httpcache.misses/pages", 1, float64(hs.Misses)},
		{"rediskit.httpcache.hits/pages", 1, float64(hs.Hits)},
		{"rediskit.httpcache.stored/pages", 1, float64(hs.Stored)},
		{"rediskit.httpcache.stale/pages", 0, float64(hs.Stale)},
		{"rediskit.httpcache.errors/pages", 0, float64(hs.Errors)},
		{"rediskit.viewcount.recorded/articles", 3, float64(vs.Recorded)},
		{"rediskit.viewcount.counted/articles", 2, float64(vs.Counted)},
		{"rediskit.viewcount.flushed/articles", 2, float64(vs.Flushed)},
		{"rediskit.viewcount.flushes/articles", 1, float64(vs.Flushes)},
		{"rediskit.viewcount.flush_errors/articles", 0, float64(vs.FlushErrors)},
		{"rediskit.viewcount.dropped/articles", 0, float64(vs.Dropped)},
		{"rediskit.viewcount.errors/articles", 0, float64(vs.Errors)},
		{"rediskit.viewcount.pending/articles", 0, float64(vs.Pending)},
		{"rediskit.viewcount.flush.lag/articles", 0, 0},
	}
	for _, tt := range tests {
		if g, ok := got[tt.metric]; !ok || g != tt.want || g != tt.stats {
			t.Errorf("%s: got %v (reported %v), want %v, Stats %v", tt.metric, g, ok, tt.want, tt.stats)
		}
	}
	for _, f := range []string{"memo", "ratelimit", "httpcache", "viewcount"} {
		if n := got["rediskit.redis.wait/"+f]; n < 1 {
			t.Errorf("rediskit.redis.wait{rediskit.feature=%s}: got %v measurements, want at least 1", f, n)
		}
	}

	spans := map[string]int{}
	redisSpans := 0
	for _, s := range rec.Ended() {
		attrs := attribute.NewSet(s.Attributes()...)
		if f, ok := attrs.Value("rediskit.feature"); ok {
			op, _ := attrs.Value("rediskit.operation")
			if want := "rediskit." + f.AsString() + "." + op.AsString(); s.Name() != want {
				t.Errorf("span %q: want name %q from its attributes", s.Name(), want)
			}
			spans[s.Name()]++
		} else if _, ok := attrs.Value("db.system"); ok {
			redisSpans++
		}
	}
	wantSpans := map[string]int{"rediskit.memo.load": 1, "rediskit.ratelimit.decision": 3,
		"rediskit.httpcache.fetch": 1, "rediskit.viewcount.flush": 1}
	for name, want := range wantSpans {
		if spans[name] != want {
			t.Errorf("spans %s: got %d, want %d (all: %v)", name, spans[name], want, spans)
		}
	}
	if redisSpans == 0 {
		t.Error("got no redisotel command spans, want some with Options.Redis")
	}
}
