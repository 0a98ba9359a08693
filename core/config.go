package core

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environments understood by Config.Environment and $ENVIRONMENT.
const (
	EnvLocal      = "local"
	EnvProduction = "production"
)

// Defaults applied by New to zero Config fields.
const (
	defaultPort          = 6379
	DefaultCacheTTL      = time.Hour
	defaultDialTimeout   = 5 * time.Second
	defaultReadTimeout   = 3 * time.Second
	defaultWriteTimeout  = 3 * time.Second
	defaultMaxValueBytes = 512 << 20 // Redis' own proto-max-bulk-len
	localHost            = "127.0.0.1"
)

// Config describes how to reach Redis. The zero value connects to a local
// server on 127.0.0.1:6379. Production configurations must name an address:
// no host is ever assumed there.
type Config struct {
	// Environment is "local" (default) or "production".
	Environment string
	// URL is a redis:// or rediss:// URL; when set it wins over Host, Port,
	// Username, Password, DB and TLS. It cannot be combined with
	// ClusterAddrs or SentinelAddrs.
	URL string
	// Host and Port of a standalone server. Host defaults to 127.0.0.1 in
	// the local environment only; Port defaults to 6379.
	Host string
	Port int
	// Username and Password for AUTH (ACL users need both). The password
	// never appears in errors, logs or String().
	Username string
	Password string
	// DB selects the logical database (standalone only).
	DB int
	// TLS turns on TLS. TLSCAFile adds a PEM CA bundle to trust (the system
	// pool is used otherwise); TLSServerName overrides the name checked in
	// the server certificate.
	TLS           bool
	TLSCAFile     string
	TLSServerName string
	// ClusterAddrs, when non-empty, selects Redis Cluster mode with these
	// seed nodes ("host:port"). The client reloads its slot map when a node
	// fails with a connection error or CLUSTERDOWN (at most every 200 ms),
	// so it follows a failover as soon as the cluster is healthy again.
	ClusterAddrs []string
	// SentinelAddrs and MasterName select Sentinel (failover) mode.
	SentinelAddrs []string
	MasterName    string
	// Timeouts; zero means the package defaults (5 s dial, 3 s read/write).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the connection pool size per node; zero means go-redis'
	// default of 10 per GOMAXPROCS.
	PoolSize int
	// MaxRetries is how often go-redis retries a command after a network
	// error; zero means go-redis' default (3), -1 disables retries. A retry
	// after a connection reset can apply a non-idempotent command (INCR)
	// twice; the feature packages that count guard against it themselves.
	MaxRetries int
	// CacheTTL is the TTL of CacheSet; zero means one hour.
	CacheTTL time.Duration
	// MaxValueBytes bounds encoded values written by Set and friends; zero
	// means 512 MiB, Redis' own limit.
	MaxValueBytes int
	// RequestBudget bounds how long one request may wait on Redis across
	// all rediskit features together (see Client.WithBudget); zero means
	// DefaultRequestBudget (500 ms), negative means no budget (each call is
	// still bounded by its feature's Timeout).
	RequestBudget time.Duration
	// ClientSideCache turns on go-redis client-side caching (RESP3 with
	// server-assisted invalidation): repeated GETs of a hot key are answered
	// in process and invalidated when any client writes the key. Off by
	// default. Limits: standalone servers only (New rejects it with
	// ClusterAddrs or SentinelAddrs), DB 0 recommended, needs Redis 6+ and
	// RESP3; memory is bounded by ClientSideCacheMaxEntries. Only plain GETs
	// are cached locally: writes, scripts and pipelines go to the server.
	ClientSideCache bool
	// ClientSideCacheMaxEntries bounds the local cache; zero means 10,000.
	ClientSideCacheMaxEntries int
	// Observer, when not nil, receives the spans and Redis waits of every
	// feature built on the Client (see Observer); nil means none, at no
	// cost. Package github.com/rediskit/rediskit/otel provides one for
	// OpenTelemetry.
	Observer Observer
}

// ConfigFromEnv reads a Config from the environment: ENVIRONMENT, REDIS_URL,
// REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD, REDIS_DB,
// REDIS_TLS, REDIS_TLS_CA_FILE, REDIS_CLUSTER_ADDRS (comma-separated),
// REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.Getenv) }

// ConfigFromLookup is ConfigFromEnv with a custom variable lookup (for tests).
func ConfigFromLookup(getenv func(string) string) (Config, error) {
	cfg := Config{
		Environment:   strings.ToLower(strings.TrimSpace(getenv("ENVIRONMENT"))),
		URL:           strings.TrimSpace(getenv("REDIS_URL")),
		Host:          strings.TrimSpace(getenv("REDIS_HOST")),
		Username:      getenv("REDIS_USERNAME"),
		Password:      getenv("REDIS_PASSWORD"),
		TLSCAFile:     strings.TrimSpace(getenv("REDIS_TLS_CA_FILE")),
		ClusterAddrs:  splitList(getenv("REDIS_CLUSTER_ADDRS")),
		SentinelAddrs: splitList(getenv("REDIS_SENTINEL_ADDRS")),
		MasterName:    strings.TrimSpace(getenv("REDIS_SENTINEL_MASTER")),
	}
	var err error
	if cfg.Port, err = envInt(getenv, "REDIS_PORT"); err != nil {
		return Config{}, err
	}
	if cfg.DB, err = envInt(getenv, "REDIS_DB"); err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(getenv("REDIS_TLS")); v != "" {
		if cfg.TLS, err = strconv.ParseBool(v); err != nil {
			return Config{}, fmt.Errorf("core: REDIS_TLS=%q is not a boolean", v)
		}
	}
	return cfg, cfg.validate()
}

func envInt(getenv func(string) string, name string) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("core: %s=%q is not an integer", name, v)
	}
	return n, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// String describes the configuration with the password redacted; it is safe
// to log.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "environment=%s", c.environment())
	switch {
	case c.URL != "":
		fmt.Fprintf(&b, " url=%s", redactURL(c.URL))
	case len(c.ClusterAddrs) > 0:
		fmt.Fprintf(&b, " cluster=%s", strings.Join(c.ClusterAddrs, ","))
	case len(c.SentinelAddrs) > 0:
		fmt.Fprintf(&b, " sentinel=%s master=%s", strings.Join(c.SentinelAddrs, ","), c.MasterName)
	default:
		fmt.Fprintf(&b, " addr=%s db=%d", c.addr(), c.DB)
	}
	if c.Username != "" {
		fmt.Fprintf(&b, " user=%s", c.Username)
	}
	if c.Password != "" {
		b.WriteString(" password=REDACTED")
	}
	if c.TLS {
		b.WriteString(" tls=true")
	}
	if c.ClientSideCache {
		b.WriteString(" client_side_cache=true")
	}
	return b.String()
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return "core.Config{" + c.String() + "}" }

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}

func (c Config) environment() string {
	if c.Environment == "" {
		return EnvLocal
	}
	return c.Environment
}

func (c Config) addr() string {
	host, port := c.Host, c.Port
	if host == "" && c.environment() == EnvLocal {
		host = localHost
	}
	if port == 0 {
		port = defaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func (c Config) validate() error {
	switch c.environment() {
	case EnvLocal, EnvProduction:
	default:
		return fmt.Errorf("core: ENVIRONMENT=%q: want %q or %q", c.Environment, EnvLocal, EnvProduction)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("core: REDIS_PORT=%d out of range 1-65535", c.Port)
	}
	if c.DB < 0 {
		return fmt.Errorf("core: REDIS_DB=%d must not be negative", c.DB)
	}
	if c.environment() == EnvProduction && c.URL == "" && c.Host == "" &&
		len(c.ClusterAddrs) == 0 && len(c.SentinelAddrs) == 0 {
		return fmt.Errorf("%w for ENVIRONMENT=production: set REDIS_URL, REDIS_HOST (and REDIS_PORT), REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS", ErrNoAddress)
	}
	if c.ClientSideCache && (len(c.ClusterAddrs) > 0 || len(c.SentinelAddrs) > 0) {
		return fmt.Errorf("core: %w: ClientSideCache is supported on a standalone server only, not with cluster or sentinel addresses", ErrInvalidArgument)
	}
	if modes := countSet(c.URL != "", len(c.ClusterAddrs) > 0, len(c.SentinelAddrs) > 0); modes > 1 {
		return fmt.Errorf("core: %w: set only one of REDIS_URL, REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS", ErrInvalidArgument)
	}
	if len(c.ClusterAddrs) > 0 && c.DB != 0 {
		return fmt.Errorf("core: %w: REDIS_DB=%d: Redis Cluster has only database 0", ErrInvalidArgument, c.DB)
	}
	if len(c.SentinelAddrs) > 0 && c.MasterName == "" {
		return fmt.Errorf("core: %w: REDIS_SENTINEL_ADDRS needs REDIS_SENTINEL_MASTER", ErrInvalidArgument)
	}
	for _, d := range []time.Duration{c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.CacheTTL} {
		if d < 0 {
			return fmt.Errorf("core: %w: timeouts and CacheTTL must not be negative", ErrInvalidTTL)
		}
	}
	return nil
}

func (c Config) tlsConfig(serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if c.TLSServerName != "" {
		tc.ServerName = c.TLSServerName
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("core: read TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("core: TLS CA file %s holds no PEM certificate", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// newRedis builds the go-redis client the Config describes. Every client it
// builds honours context deadlines on each call (ContextTimeoutEnabled), so a
// per-call timeout bounds a slow or blackholed Redis instead of ReadTimeout.
func (c Config) newRedis() (redis.UniversalClient, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(c.ClusterAddrs) > 0 {
		return c.newCluster()
	}
	opt, err := c.standaloneOptions()
	if err != nil {
		return nil, err
	}
	if len(c.SentinelAddrs) > 0 {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.MasterName, SentinelAddrs: slices.Clone(c.SentinelAddrs),
			Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
			DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
			PoolSize: opt.PoolSize, MaxRetries: opt.MaxRetries, ContextTimeoutEnabled: true,
		}), nil
	}
	return redis.NewClient(opt), nil
}

func (c Config) timeouts() (dial, read, write time.Duration) {
	return orDuration(c.DialTimeout, defaultDialTimeout), orDuration(c.ReadTimeout, defaultReadTimeout),
		orDuration(c.WriteTimeout, defaultWriteTimeout)
}

func (c Config) newCluster() (redis.UniversalClient, error) {
	dial, read, write := c.timeouts()
	opt := &redis.ClusterOptions{
		// go-redis appends the nodes it learns to Addrs: a copy, so the
		// caller's slice is never written behind its back.
		Addrs: slices.Clone(c.ClusterAddrs), Username: c.Username, Password: c.Password,
		DialTimeout: dial, ReadTimeout: read, WriteTimeout: write, PoolSize: c.PoolSize,
		MaxRetries: c.MaxRetries, ContextTimeoutEnabled: true,
		// One dial per attempt: go-redis retries a failed dial 5 times
		// 100 ms apart by default, and the slot-map reload that follows a
		// failover (see followFailover) asks nodes in random order, the
		// dead master included, so those retries held every reload that
		// picked it for 0.4 s (recovery 1.0-1.4 s after the cluster was
		// healthy; 0.03-0.14 s with one dial). A command that fails to dial
		// is still retried by the cluster client on another attempt.
		DialerRetries: 1,
	}
	if c.TLS {
		host, _, _ := net.SplitHostPort(c.ClusterAddrs[0])
		tc, err := c.tlsConfig(host)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = tc
	}
	rdb := redis.NewClusterClient(opt)
	followFailover(rdb)
	return rdb, nil
}

// standaloneOptions are the options of a standalone (or, with Sentinel, the
// master's) connection: from URL when set, else from the fields.
func (c Config) standaloneOptions() (*redis.Options, error) {
	opt, err := c.addressOptions()
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = c.timeouts()
	opt.ContextTimeoutEnabled = true
	if c.MaxRetries != 0 {
		opt.MaxRetries = c.MaxRetries
	}
	if c.PoolSize > 0 {
		opt.PoolSize = c.PoolSize
	}
	if c.ClientSideCache {
		maxEntries := c.ClientSideCacheMaxEntries
		if maxEntries <= 0 {
			maxEntries = 10_000
		}
		opt.Protocol = 3
		opt.ClientSideCacheConfig = &redis.ClientSideCacheConfig{MaxEntries: maxEntries}
	}
	return opt, nil
}

// addressOptions resolves where to connect and how to authenticate.
func (c Config) addressOptions() (*redis.Options, error) {
	if c.URL == "" {
		opt := &redis.Options{Addr: c.addr(), Username: c.Username, Password: c.Password, DB: c.DB}
		if c.TLS {
			tc, err := c.tlsConfig(strings.Trim(c.Host, "[]"))
			if err != nil {
				return nil, err
			}
			opt.TLSConfig = tc
		}
		return opt, nil
	}
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		// go-redis errors may echo the URL; never echo the password.
		return nil, fmt.Errorf("core: invalid REDIS_URL %s", redactURL(c.URL))
	}
	if opt.TLSConfig != nil && (c.TLSCAFile != "" || c.TLSServerName != "") {
		tc, err := c.tlsConfig(opt.TLSConfig.ServerName)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = tc
	}
	return opt, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func countSet(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}
