package shop

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/examples/internal/redisconn"
)

// Flags are the command-line flags every example service takes.
type Flags struct {
	Addr           string
	Redis          string
	RateLimit      int
	RateWindow     time.Duration
	TrustedProxies string
	Metrics        bool // serve GET /metrics (Prometheus format)
}

// ParseFlags parses args (without the program name).
func ParseFlags(name string, args []string) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&f.Redis, "redis", redisconn.ModeAuto, "auto (the environment's REDIS_URL, REDIS_HOST, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS when set, else embedded), env, embedded or a redis:// URL")
	fs.IntVar(&f.RateLimit, "rate-limit", 5, "requests per window on /api/limited (at least 1)")
	fs.DurationVar(&f.RateWindow, "rate-window", 10*time.Second, "rate-limit window (positive, e.g. 10s)")
	fs.StringVar(&f.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted")
	fs.BoolVar(&f.Metrics, "metrics", false, "serve GET /metrics: rediskit's OpenTelemetry metrics in Prometheus format")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if err := f.Validate(); err != nil {
		fmt.Fprintln(fs.Output(), err) // as fs.Parse reports its own errors
		return f, err
	}
	return f, nil
}

// Validate rejects flag values that mean nothing: a rate limit below 1 and
// a rate window that is not positive (0 is not "the default").
func (f Flags) Validate() error {
	var errs []error
	if f.RateLimit < 1 {
		errs = append(errs, fmt.Errorf("-rate-limit %d: want at least 1 request per window", f.RateLimit))
	}
	if f.RateWindow <= 0 {
		errs = append(errs, fmt.Errorf("-rate-window %v: want a positive duration, e.g. 10s", f.RateWindow))
	}
	return errors.Join(errs...)
}

// Main runs an example service from the command line until SIGINT or
// SIGTERM; build routes the Service's endpoints.
func Main(name string, build func(*Service) (http.Handler, error)) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	f, err := ParseFlags(name, os.Args[1:])
	if err != nil {
		os.Exit(2) // reported by ParseFlags
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, log, f, build); err != nil {
		log.Error(name+" stopped", "err", err)
		os.Exit(1)
	}
}

// Run connects to Redis as f says, serves the routes build returns on
// f.Addr, and when ctx ends shuts down gracefully: in-flight requests are
// drained and buffered view counts flushed.
func Run(ctx context.Context, log *slog.Logger, f Flags, build func(*Service) (http.Handler, error)) error {
	if err := f.Validate(); err != nil {
		return err
	}
	cfg := Config{RateLimit: f.RateLimit, RateWindow: f.RateWindow, Logger: log}
	if f.TrustedProxies != "" {
		prefixes, err := clientip.ParsePrefixes(strings.Split(f.TrustedProxies, ",")...)
		if err != nil {
			return err
		}
		cfg.TrustedProxies = prefixes
	}
	conn, err := redisconn.Open(ctx, f.Redis)
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Info("redis", "using", conn.Description)

	client := conn.Client
	var metrics *Metrics
	if f.Metrics {
		if metrics, err = NewMetrics(client); err != nil {
			return err
		}
		defer metrics.Close()
		client = metrics.Client()
	}
	svc, err := New(client, cfg)
	if err != nil {
		return err
	}
	if metrics != nil {
		if err := metrics.Register(svc); err != nil {
			return err
		}
	}
	checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = svc.Check(checkCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("start-up check of the Redis permissions the service needs: %w", err)
	}
	handler, err := build(svc)
	if err != nil {
		return err
	}
	if metrics != nil {
		handler = metrics.Handler(handler)
	}
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "addr", "http://"+ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests and flushing view counts")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if cerr := svc.Close(shutdownCtx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}
