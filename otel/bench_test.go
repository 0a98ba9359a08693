package rediskitotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
	rediskitotel "github.com/rediskit/rediskit/otel"
	"github.com/rediskit/rediskit/ratelimit"
)

// benchClients are the same connection without an Observer (the
// baseline), with SDK metrics only, and with SDK metrics and traces (every
// span sampled, none exported).
func benchClients(b *testing.B) []struct {
	name string
	c    *core.Client
} {
	base := core.NewFromRedis(redistest.Standalone(b))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	metrics, err := rediskitotel.Instrument(base, rediskitotel.Options{MeterProvider: mp, TracerProvider: noop.NewTracerProvider()})
	if err != nil {
		b.Fatal(err)
	}
	both, err := rediskitotel.Instrument(base, rediskitotel.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		c    *core.Client
	}{{"observer=off", base}, {"observer=metrics", metrics.Client()}, {"observer=metrics+traces", both.Client()}}
}

// BenchmarkWarmPaths compares the warm paths with and without an Observer
// in one run: a memo warm hit, a ratelimit decision (allowed, one round
// trip) and an httpcache hit.
func BenchmarkWarmPaths(b *testing.B) {
	ctx := context.Background()
	clients := benchClients(b)
	for _, cl := range clients {
		ns := redistest.Prefix(b)
		f, err := memo.Wrap(cl.c, "p", func(_ context.Context, id int) (string, error) { return "v" + strconv.Itoa(id), nil },
			memo.Options{Namespace: ns + ":m", TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Get(ctx, 1); err != nil {
			b.Fatal(err)
		}
		b.Run("memo-warm-hit/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Get(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, cl := range clients {
		lim, err := ratelimit.NewFixedWindow(cl.c, ratelimit.Options{Namespace: redistest.Prefix(b) + ":rl", Limit: 1 << 30, Window: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("ratelimit-decision/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lim.Allow(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	origin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(make([]byte, 2048))
	})
	for _, cl := range clients {
		cache, err := httpcache.New(cl.c, httpcache.Options{Namespace: redistest.Prefix(b) + ":hc"})
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "http://example.com/p/1", nil)
		cache.Serve(httptest.NewRecorder(), req, origin)
		b.Run("httpcache-hit/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cache.Serve(httptest.NewRecorder(), req, origin)
			}
		})
	}
}

// BenchmarkObserverCost is the observer's own cost, without Redis: what one
// Redis wait record (every Redis call) and one span (a decision, a load)
// add to a warm path. Compared with the warm paths of BenchmarkWarmPaths
// (tens of µs) it gives the overhead as a fraction without their noise.
func BenchmarkObserverCost(b *testing.B) {
	ctx := context.Background()
	base := core.NewFromRedis(redistest.Standalone(b))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = mp.Shutdown(ctx); _ = tp.Shutdown(ctx) })
	inst, err := rediskitotel.Instrument(base, rediskitotel.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=redis-wait", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst.RedisWait(ctx, "memo", 30*time.Microsecond)
		}
	})
	b.Run("op=span", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, end := inst.Start(ctx, "ratelimit", "decision")
			end(nil)
		}
	})
}
