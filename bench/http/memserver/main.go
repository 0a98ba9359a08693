// Command memserver is the in-memory HTTP server of the HTTP benchmarks
// (bench/http/run.sh): it answers GET and HEAD from bytes held in memory and
// counts the requests it served, so it is at once the origin behind the
// caches, the ceiling they are compared with (a Go net/http program doing
// no work per request), and the bare twin of the example service.
//
//	memserver -addr 127.0.0.1:8000 [-body-bytes 2048] [-cache-control 'public, max-age=300']
//	memserver -addr 127.0.0.1:8001 -route /products/1=products.http [-route ...]
//
// Without -route every path answers the same generated body of -body-bytes
// (text/plain, with -cache-control). With -route only the given paths are
// served, each with the body and the content headers (Content-Type,
// Cache-Control, X-Content-Type-Options) of FILE, a response as `curl -si`
// prints it; other paths answer 404.
//
// GET /-/requests answers the number of requests served so far (itself not
// included), with Cache-Control: no-store. It only listens on loopback
// addresses; SIGINT or SIGTERM stops it.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		log.Fatalf("memserver: %v", err)
	}
}

// response is one answer held in memory.
type response struct {
	header http.Header
	body   []byte
}

// routeFlags collects -route PATH=FILE.
type routeFlags map[string]string

func (r routeFlags) String() string { return fmt.Sprint(map[string]string(r)) }

func (r routeFlags) Set(s string) error {
	path, file, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(path, "/") || file == "" {
		return fmt.Errorf("want PATH=FILE with PATH starting with /, got %q", s)
	}
	r[path] = file
	return nil
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("memserver", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address, a loopback IP and port (required)")
	bodyBytes := fs.Int("body-bytes", 2048, "size of the generated body (without -route)")
	cacheControl := fs.String("cache-control", "public, max-age=300", "Cache-Control of the generated body (without -route)")
	routes := routeFlags{}
	fs.Var(routes, "route", "PATH=FILE: serve the response in FILE (as curl -si prints it) at PATH; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	if *bodyBytes < 0 {
		return fmt.Errorf("-body-bytes %d: want 0 or more", *bodyBytes)
	}
	s := &server{}
	if len(routes) == 0 {
		s.any = &response{
			header: http.Header{
				"Content-Type":   {"text/plain; charset=utf-8"},
				"Cache-Control":  {*cacheControl},
				"Content-Length": {strconv.Itoa(*bodyBytes)},
			},
			body: generatedBody(*bodyBytes),
		}
	} else {
		s.paths = map[string]*response{}
		for path, file := range routes {
			resp, err := readResponse(file)
			if err != nil {
				return fmt.Errorf("-route %s: %w", path, err)
			}
			s.paths[path] = resp
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("listening on %s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// checkLoopback accepts only host:port with a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback IP such as 127.0.0.1", addr)
	}
	return nil
}

// generatedBody is n bytes of readable text.
func generatedBody(n int) []byte {
	const line = "rediskit HTTP benchmark body, served from memory.\n"
	b := make([]byte, n)
	for i := range b {
		b[i] = line[i%len(line)]
	}
	return b
}

// contentHeaders are the headers of a captured response that memserver
// replays; the others (Date, Age, Cache-Status, RateLimit-*, ...) describe
// one answer, not the content.
var contentHeaders = []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"}

// readResponse parses a response as `curl -si` prints it.
func readResponse(file string) (*response, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	resp, err := http.ReadResponse(bufio.NewReader(f), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d, want a 200 to replay", file, resp.StatusCode)
	}
	h := http.Header{"Content-Length": {strconv.Itoa(len(body))}}
	for _, k := range contentHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return &response{header: h, body: body}, nil
}

// server answers from memory: any (every path) or paths (those only).
type server struct {
	any      *response
	paths    map[string]*response
	requests atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/-/requests" {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, s.requests.Load())
		return
	}
	s.requests.Add(1)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	resp := s.any
	if resp == nil {
		if resp = s.paths[r.URL.Path]; resp == nil {
			http.NotFound(w, r)
			return
		}
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(resp.body) // a client gone away is nothing to report here
}
