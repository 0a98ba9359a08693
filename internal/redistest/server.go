package redistest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ServerOptions configures a dedicated server started by StartServer.
type ServerOptions struct {
	// Args are extra redis-server arguments, e.g. "--maxmemory", "1mb".
	Args []string
	// TLS, when set, makes the server speak TLS only (plain port disabled),
	// with client certificates not required.
	TLS *TLSFiles
	// ConfigLines are written to a redis.conf the server loads first, e.g.
	// the ACL line "user alice on >pw ~app:* +@all".
	ConfigLines []string
}

// Server is a dedicated redis-server a test owns, for stop/restart, config
// changes, ACL or TLS. Its methods are safe for concurrent use.
type Server struct {
	t    testing.TB
	p    *proc
	opts ServerOptions
}

// StartServer starts a dedicated redis-server on a free 127.0.0.1 port and
// waits until it answers PING. It is stopped at t.Cleanup. Like Cluster, it
// skips t when redis-server is missing (fails under REDISKIT_REQUIRE_REDIS=1).
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if !haveRedis() {
		skipMissing(t, "StartServer needs a real server")
	}
	dir := t.TempDir()
	var tlsConf *tls.Config
	if opts.TLS != nil {
		tlsConf = opts.TLS.clientConfig(t)
	}
	// A cluster node also listens on port+10000 (its bus), so it needs a
	// port below 55536 whose bus port is free too.
	bus := slices.Contains(opts.Args, "--cluster-enabled")
	p, err := startProc(dir, bus, func(port int) ([]string, error) {
		return serverArgs(dir, port, opts)
	}, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, p: p, opts: opts}
	t.Cleanup(s.Stop)
	return s
}

func serverArgs(dir string, port int, opts ServerOptions) ([]string, error) {
	var args []string
	if len(opts.ConfigLines) > 0 {
		conf := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(opts.ConfigLines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, conf) // the config file must come first
	}
	args = append(args, baseArgs(dir, port)...)
	if f := opts.TLS; f != nil {
		args = append(args,
			"--port", "0",
			"--tls-port", strconv.Itoa(port),
			"--tls-cert-file", f.CertFile,
			"--tls-key-file", f.KeyFile,
			"--tls-ca-cert-file", f.CAFile,
			"--tls-auth-clients", "no",
		)
	}
	return append(args, opts.Args...), nil
}

// Addr returns the server's "127.0.0.1:port"; it stays the same across
// Restart.
func (s *Server) Addr() string { return s.p.addr() }

// Stop kills the server process and waits for it to exit. Stopping a stopped
// server does nothing.
func (s *Server) Stop() { s.p.stop() }

// Restart stops the server if it runs, starts it again on the same port with
// the same options (data is not kept), and waits until it answers PING. If
// the server does not come back it fails the test that started it (t.Fatal,
// with the log tail), so call it from that test's goroutine.
func (s *Server) Restart() {
	s.t.Helper()
	s.p.stop()
	if err := s.p.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns a client for the server, closed at t.Cleanup. opts may be
// nil (then context deadlines are honoured, as with core.New); Addr is always set to the server's. For a TLS server with no
// opts.TLSConfig, the client trusts the server's CA and verifies the name
// "127.0.0.1".
func (s *Server) Client(t testing.TB, opts *redis.Options) *redis.Client {
	t.Helper()
	o := redis.Options{ContextTimeoutEnabled: true}
	if opts != nil {
		o = *opts
	}
	o.Addr = s.Addr()
	if s.opts.TLS != nil && o.TLSConfig == nil {
		o.TLSConfig = s.p.tlsConf.Clone()
	}
	rdb := redis.NewClient(&o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// clientConfig trusts f.CAFile and expects the server name "127.0.0.1".
func (f *TLSFiles) clientConfig(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("redistest: no certificate in %s", f.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
