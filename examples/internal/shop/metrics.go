package shop

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/rediskit/rediskit/core"
	rediskitotel "github.com/rediskit/rediskit/otel"
	"github.com/rediskit/rediskit/ratelimit"
)

// Metrics exports the service's rediskit metrics (package rediskitotel:
// every feature's Stats as counters, the Redis wait per feature as a
// histogram, go-redis' own command metrics) in Prometheus format.
type Metrics struct {
	inst     *rediskitotel.Instrumentation
	registry *prometheus.Registry
}

// NewMetrics instruments c. Build the Service on Client(), then Register it
// and serve Handler.
func NewMetrics(c *core.Client) (*Metrics, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	inst, err := rediskitotel.Instrument(c, rediskitotel.Options{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		Redis:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &Metrics{inst: inst, registry: registry}, nil
}

// Client is the instrumented client the Service must be built on.
func (m *Metrics) Client() *core.Client { return m.inst.Client() }

// Register exports the counters of every feature of s.
func (m *Metrics) Register(s *Service) error {
	lim, ok := s.limiter.(interface{ Stats() ratelimit.Stats })
	if !ok {
		return fmt.Errorf("metrics: limiter %T has no Stats", s.limiter)
	}
	for _, err := range []error{
		m.inst.Memo("product", s.Products),
		m.inst.RateLimit("api", lim),
		m.inst.HTTPCache("shop", s.Cache),
		m.inst.ViewCount("articles", s.Views),
	} {
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// Handler serves GET /metrics and hands every other request to next.
func (m *Metrics) Handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.Handle("/", next)
	return mux
}

// Close stops reading the features' counters.
func (m *Metrics) Close() error { return m.inst.Close() }
