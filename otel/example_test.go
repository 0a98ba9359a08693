package rediskitotel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
	rediskitotel "github.com/rediskit/rediskit/otel"
)

// Instrument a client once; features built on Instrumentation.Client report
// their spans and Redis waits, and registered ones export their Stats.
func Example() {
	rdb, done := redistest.ExampleClient() // a private, emptied Redis for the example
	defer done()
	client := core.NewFromRedis(rdb)

	reader := sdkmetric.NewManualReader()
	inst, err := rediskitotel.Instrument(client, rediskitotel.Options{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	square, err := memo.Wrap(inst.Client(), "square", func(_ context.Context, n int) (int, error) { return n * n, nil }, memo.Options{})
	if err != nil {
		panic(err)
	}
	if err := inst.Memo("square", square); err != nil {
		panic(err)
	}
	for range 3 {
		_, _ = square.Get(context.Background(), 7)
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok && (m.Name == "rediskit.memo.hits" || m.Name == "rediskit.memo.misses") {
			for _, p := range s.DataPoints {
				name, _ := p.Attributes.Value("rediskit.name")
				fmt.Printf("%s{rediskit.name=%s} %d\n", m.Name, name.AsString(), p.Value)
			}
		}
	}
	// Output:
	// rediskit.memo.hits{rediskit.name=square} 2
	// rediskit.memo.misses{rediskit.name=square} 1
}
