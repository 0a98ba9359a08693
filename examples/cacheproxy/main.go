// Command cacheproxy is a caching reverse proxy: an httputil.ReverseProxy to
// -origin wrapped in httpcache's RFC 9111 shared cache, storing responses in
// Redis. Every method and path is forwarded; GET and HEAD are answered from
// the cache when RFC 9111 allows, unsafe methods invalidate what they touch.
//
//	cacheproxy -origin http://127.0.0.1:8000 [-listen 127.0.0.1:8081] [-redis auto]
//
// -redis is "auto" (the default: REDIS_URL or REDIS_CLUSTER_ADDRS when set,
// else an embedded in-process Redis, good for a demo or a test run), "env",
// "embedded", or a redis:// or rediss:// URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/examples/internal/redisconn"
	"github.com/rediskit/rediskit/httpcache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		log.Fatal(err)
	}
}

// run parses args, serves until ctx is done, and calls ready (when not nil)
// with the address it listens on.
func run(ctx context.Context, args []string, logw io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("cacheproxy", flag.ContinueOnError)
	fs.SetOutput(logw)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	originURL := fs.String("origin", "", "origin base URL, e.g. http://127.0.0.1:8000 (required)")
	redisMode := fs.String("redis", redisconn.ModeAuto, `"auto" (REDIS_URL or REDIS_CLUSTER_ADDRS when set, else embedded), "env", "embedded" or a redis:// URL`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*originURL)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("cacheproxy: -origin must be an absolute http(s) URL, got %q", *originURL)
	}
	conn, err := redisconn.Open(ctx, *redisMode)
	if err != nil {
		return fmt.Errorf("cacheproxy: %w", err)
	}
	defer conn.Close()
	logger := log.New(logw, "cacheproxy: ", log.LstdFlags)
	logger.Printf("using %s", conn.Description)
	cache, err := httpcache.New(conn.Client, httpcache.Options{
		OnError: func(_ context.Context, err error) { logger.Print(err) },
	})
	if err != nil {
		return err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		ErrorLog: logger,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cacheproxy: %w", err)
	}
	srv := &http.Server{Handler: nethttp.HTTPCache(cache)(proxy), ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger}
	logger.Printf("listening on http://%s, origin %s", ln.Addr(), target)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
