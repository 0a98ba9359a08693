// Command cacheproxy is a caching reverse proxy: an httputil.ReverseProxy to
// -origin wrapped in httpcache's RFC 9111 shared cache, storing responses in
// Redis. Every method and path is forwarded; GET and HEAD are answered from
// the cache when RFC 9111 allows, unsafe methods invalidate what they touch.
//
//	cacheproxy -origin http://127.0.0.1:8000 [-addr 127.0.0.1:8081] [-redis auto]
//		[-local-bytes 0] [-collapse=true]
//
// -origin must be an http or https URL with a host. -addr is the listen
// address, as for the example services (-listen is its deprecated alias).
// Logs are structured (log/slog, text) on stderr.
//
// -redis is "auto" (the default: REDIS_URL or REDIS_CLUSTER_ADDRS when set,
// else an embedded in-process Redis, good for a demo or a test run), "env",
// "embedded", or a redis:// or rediss:// URL.
//
// -local-bytes sizes the cache's coherent in-process tier
// (httpcache.Options.Local.MaxBytes): hits are then answered from memory,
// and a store or purge by any instance sharing the Redis is seen within
// 100 ms. The default, 0, leaves it off, as in the library: every hit is
// then one Redis round trip. -collapse=false turns off collapsing of
// concurrent misses across instances (httpcache.Options.Collapse; on by
// default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		slog.New(slog.NewTextHandler(os.Stderr, nil)).Error("cacheproxy stopped", "err", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done, and calls ready (when not nil)
// with the address it listens on.
func run(ctx context.Context, args []string, logw io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("cacheproxy", flag.ContinueOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	fs.StringVar(addr, "listen", "127.0.0.1:8081", "deprecated: use -addr")
	originURL := fs.String("origin", "", "origin base URL, e.g. http://127.0.0.1:8000 (required)")
	redisMode := fs.String("redis", redisconn.ModeAuto, `"auto" (REDIS_URL or REDIS_CLUSTER_ADDRS when set, else embedded), "env", "embedded" or a redis:// URL`)
	localBytes := fs.Int("local-bytes", 0, "size in bytes of the coherent in-process tier answering hits without Redis (0: off)")
	collapse := fs.Bool("collapse", true, "collapse concurrent misses across instances sharing the Redis (a lease per key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cacheproxy: unexpected arguments %q", fs.Args())
	}
	if *localBytes < 0 {
		return fmt.Errorf("cacheproxy: -local-bytes %d: want 0 (off) or a positive size", *localBytes)
	}
	target, err := parseOrigin(*originURL)
	if err != nil {
		return err
	}
	conn, err := redisconn.Open(ctx, *redisMode)
	if err != nil {
		return fmt.Errorf("cacheproxy: %w", err)
	}
	defer conn.Close()
	logger := slog.New(slog.NewTextHandler(logw, nil))
	logger.Info("redis", "using", conn.Description)
	errorLog := slog.NewLogLogger(logger.Handler(), slog.LevelError) // for ReverseProxy and http.Server
	cache, err := httpcache.New(conn.Client, httpcache.Options{
		OnError:  func(_ context.Context, err error) { logger.Warn("httpcache", "err", err) },
		Local:    httpcache.LocalOptions{MaxBytes: *localBytes},
		Collapse: httpcache.CollapseOptions{Disable: !*collapse},
	})
	if err != nil {
		return err
	}
	defer cache.Close()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: newOriginTransport(),
		// The origin could not be reached (refused, reset, closed before a
		// response): the cache may answer with a stale response instead of
		// this 502 (httpcache.OriginUnreachable).
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			httpcache.OriginUnreachable(w)
			if !errors.Is(err, context.Canceled) {
				var ue *url.Error // it names the URL, which may hold a secret
				if errors.As(err, &ue) {
					err = ue.Err
				}
				logger.Warn("origin unreachable", "method", r.Method, "err", err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: errorLog,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cacheproxy: %w", err)
	}
	srv := &http.Server{Handler: nethttp.HTTPCache(cache)(proxy), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "origin", target.String())
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

// parseOrigin accepts an http or https URL with a host (and no query or
// fragment, which the proxy could not honour).
func parseOrigin(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("cacheproxy: -origin is required, e.g. -origin http://127.0.0.1:8000")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("cacheproxy: -origin %q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("cacheproxy: -origin %q: the scheme must be http or https", s)
	case u.Hostname() == "":
		return nil, fmt.Errorf("cacheproxy: -origin %q: no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("cacheproxy: -origin %q: want scheme://host[:port][/path] without user info, query or fragment", s)
	}
	return u, nil
}
