// Command service is the rediskit example service on net/http: memoized and
// response-cached products, a rate-limited endpoint and counted article
// views, on an embedded Redis unless REDIS_URL or REDIS_CLUSTER_ADDRS is set.
//
//	go run ./examples/service
//	curl -i 127.0.0.1:8080/products/1
package main

import (
	"context"
	"errors"
	"flag"
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
	"github.com/rediskit/rediskit/examples/internal/shop"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	redisMode := flag.String("redis", redisconn.ModeAuto, "auto (REDIS_URL or REDIS_CLUSTER_ADDRS when set, else embedded), env or embedded")
	rateLimit := flag.Int("rate-limit", 5, "requests per window on /api/limited")
	rateWindow := flag.Duration("rate-window", 10*time.Second, "rate-limit window")
	proxies := flag.String("trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *addr, *redisMode, *proxies, shop.Config{RateLimit: *rateLimit, RateWindow: *rateWindow, Logger: log}); err != nil {
		log.Error("service stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, addr, redisMode, proxies string, cfg shop.Config) error {
	if proxies != "" {
		prefixes, err := clientip.ParsePrefixes(splitComma(proxies)...)
		if err != nil {
			return err
		}
		cfg.TrustedProxies = prefixes
	}
	conn, err := redisconn.Open(ctx, redisMode)
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Info("redis", "using", conn.Description)

	svc, err := shop.New(conn.Client, cfg)
	if err != nil {
		return err
	}
	handler, err := newHandler(svc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
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

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
