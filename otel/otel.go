package rediskitotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rediskit/rediskit/core"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/rediskit/rediskit/otel"

// Options configure Instrument. The zero value reports to the global
// providers (otel.GetMeterProvider, otel.GetTracerProvider) and leaves
// go-redis' own commands uninstrumented.
type Options struct {
	// MeterProvider receives the counters and the Redis wait histogram;
	// nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider receives the load, decision, fetch and flush spans;
	// nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Redis also instruments the client's go-redis client with redisotel
	// (InstrumentTracing and InstrumentMetrics, with the providers above):
	// one span and one duration measurement per Redis command. go-redis
	// hooks cannot be removed: Close does not undo it.
	Redis bool
}

// Instrumentation is the core.Observer that reports rediskit to
// OpenTelemetry, and the registry of the features whose Stats it exports.
// It is safe for concurrent use.
type Instrumentation struct {
	c      *core.Client
	tracer trace.Tracer
	wait   metric.Float64Histogram
	reg    metric.Registration

	mu    sync.Mutex
	feats registry
}

var _ core.Observer = (*Instrumentation)(nil)

// Instrument returns the Instrumentation of c: Client() is c reporting to
// it (build the features from that client), and Memo, RateLimit, HTTPCache
// and ViewCount export the Stats of the features registered with them.
// With opts.Redis it also instruments c.Redis() with redisotel. Errors come
// from the providers or redisotel; c is unchanged on error, except that
// redisotel may have added its tracing hook.
func Instrument(c *core.Client, opts Options) (*Instrumentation, error) {
	if c == nil {
		return nil, errors.New("rediskitotel: nil core client")
	}
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	i := &Instrumentation{tracer: tp.Tracer(ScopeName)}
	meter := mp.Meter(ScopeName)
	var err error
	i.wait, err = meter.Float64Histogram("rediskit.redis.wait", metric.WithUnit("s"),
		metric.WithDescription("Time one Redis call of a rediskit feature waited (what the request budget is charged)."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	if err != nil {
		return nil, fmt.Errorf("rediskitotel: %w", err)
	}
	if i.reg, err = i.registerStats(meter); err != nil {
		return nil, err
	}
	if opts.Redis {
		rdb := c.Redis()
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp)); err != nil {
			_ = i.reg.Unregister()
			return nil, fmt.Errorf("rediskitotel: redisotel tracing: %w", err)
		}
		if err := redisotel.InstrumentMetrics(rdb, redisotel.WithMeterProvider(mp)); err != nil {
			_ = i.reg.Unregister()
			return nil, fmt.Errorf("rediskitotel: redisotel metrics: %w", err)
		}
	}
	i.c = c.WithObserver(i)
	return i, nil
}

// Client returns the client Instrument was given, reporting to i: every
// feature built on it (memo.Wrap, ratelimit.New…, httpcache.New,
// viewcount.New) reports its spans and Redis waits here.
func (i *Instrumentation) Client() *core.Client { return i.c }

// Close stops exporting the registered features' Stats. Spans and Redis
// waits still reach the providers until they shut down.
func (i *Instrumentation) Close() error { return i.reg.Unregister() }

// spanKey names the spans of one feature and operation.
type spanKey struct{ feature, op string }

type spanSpec struct {
	name string
	opts []trace.SpanStartOption
}

// spans are built once for the operations the features report; others are
// built per call.
var spans = func() map[spanKey]spanSpec {
	m := map[spanKey]spanSpec{}
	for _, k := range []spanKey{{"memo", "load"}, {"ratelimit", "decision"}, {"httpcache", "fetch"}, {"viewcount", "flush"}} {
		m[k] = newSpanSpec(k)
	}
	return m
}()

func newSpanSpec(k spanKey) spanSpec {
	return spanSpec{name: "rediskit." + k.feature + "." + k.op, opts: []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrFeature.String(k.feature), attrOperation.String(k.op)),
	}}
}

const (
	attrFeature   = attribute.Key("rediskit.feature")
	attrOperation = attribute.Key("rediskit.operation")
	attrName      = attribute.Key("rediskit.name")
)

// Start implements core.Observer: a span named "rediskit.<feature>.<op>"
// with the attributes rediskit.feature and rediskit.operation; end records
// a non-nil error and sets the status to Error.
func (i *Instrumentation) Start(ctx context.Context, feature, op string) (context.Context, func(error)) {
	s, ok := spans[spanKey{feature, op}]
	if !ok {
		s = newSpanSpec(spanKey{feature, op})
	}
	ctx, span := i.tracer.Start(ctx, s.name, s.opts...)
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// waitOpts are the histogram's attributes per feature, built once.
var waitOpts = func() map[string][]metric.RecordOption {
	m := map[string][]metric.RecordOption{}
	for _, f := range []string{"memo", "ratelimit", "httpcache", "viewcount"} {
		m[f] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrFeature.String(f)))}
	}
	return m
}()

// RedisWait implements core.Observer: one rediskit.redis.wait measurement,
// in seconds, with the attribute rediskit.feature.
func (i *Instrumentation) RedisWait(ctx context.Context, feature string, d time.Duration) {
	o, ok := waitOpts[feature]
	if !ok {
		o = []metric.RecordOption{metric.WithAttributes(attrFeature.String(feature))}
	}
	i.wait.Record(ctx, d.Seconds(), o...)
}
