package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rediskit/rediskit/core"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultNamespace         = "httpcache"
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxTTL            = 24 * time.Hour
	DefaultStaleRetention    = 10 * time.Minute
	DefaultMaxStaleWindow    = time.Hour
	DefaultRedisTimeout      = 250 * time.Millisecond
	DefaultRevalidateTimeout = 30 * time.Second
	DefaultGenerationRefresh = time.Second
	DefaultMaxKeyBytes       = 256
	DefaultTagHeader         = "Cache-Tag"
	DefaultCacheStatusName   = "rediskit"
)

// DefaultStripHeaders are request headers removed before a cacheable request
// reaches the handler: they are never part of the key, so a handler that read
// them could poison a shared entry.
var DefaultStripHeaders = []string{
	"X-Forwarded-Host", "X-Forwarded-Server", "X-Host", "X-Original-Host",
	"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	"Forwarded", "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
}

// ErrHostNotAllowed is returned by Purge for a URL whose host is neither on
// the allowlist nor mapped to a canonical host.
var ErrHostNotAllowed = errors.New("httpcache: host not allowed")

// ErrInvalidOptions wraps every configuration error New returns.
var ErrInvalidOptions = errors.New("httpcache: invalid options")

// Rule gives responses without explicit freshness (no s-maxage, max-age or
// Expires) a freshness lifetime, for requests whose path starts with Prefix.
// The first matching rule wins. A rule never overrides the response's own
// Cache-Control, and never makes a non-storable response storable.
type Rule struct {
	Prefix string
	TTL    time.Duration
}

// Options configures a Cache. The zero value is valid: every field documents
// its default.
type Options struct {
	// Namespace prefixes every Redis key. Default "httpcache".
	Namespace string
	// Hosts is the allowlist of request hosts (without default port, case
	// insensitive) keyed as they are. A request for another host is keyed
	// under CanonicalHost (and the handler sees CanonicalHost as r.Host), or
	// bypasses the cache when CanonicalHost is empty. Empty Hosts with empty
	// CanonicalHost keys every host as sent: a Host header can then only
	// address its own entries, never another host's.
	Hosts []string
	// CanonicalHost is the host used in keys for requests whose host is not
	// on Hosts (all requests when Hosts is empty).
	CanonicalHost string
	// Scheme, "http" or "https", is the scheme of every key when set.
	// Empty (the default) keys a request's own scheme: "https" when it came
	// over TLS (r.TLS set), else "http"; Forwarded and X-Forwarded-Proto are
	// never read. Behind a proxy that terminates TLS every request looks
	// like http, so http and https requests then share entries: set Scheme
	// to "https" when the site is served over https only, or key schemes
	// apart with a handler that does not depend on them.
	Scheme string
	// SortQuery sorts query parameters in the key, so ?a=1&b=2 and ?b=2&a=1
	// share an entry. Default false.
	SortQuery bool
	// IgnoreQuery names query parameters left out of the key; they are also
	// removed from the request the handler sees, so the response cannot
	// depend on them.
	IgnoreQuery []string
	// StripHeaders are removed from cacheable requests before the handler
	// runs. Nil means DefaultStripHeaders; an empty non-nil slice strips none.
	StripHeaders []string
	// MaxBodyBytes is the largest body stored. Larger responses stream to
	// the client and are not stored. Default 1 MiB.
	MaxBodyBytes int
	// MaxTTL caps the Redis TTL of an entry (freshness + stale windows).
	// Default 24h.
	MaxTTL time.Duration
	// StaleRetention keeps an entry this long after it turns stale, so it
	// can be revalidated with a conditional request or served under
	// max-stale or stale-if-error. Default 10 minutes; negative disables.
	StaleRetention time.Duration
	// MaxStaleWhileRevalidate and MaxStaleIfError cap the RFC 5861 windows a
	// response (or request) asks for. Default 1h each; negative disables
	// the directive.
	MaxStaleWhileRevalidate time.Duration
	MaxStaleIfError         time.Duration
	// Rules give responses without explicit freshness a TTL by path prefix.
	// Without a matching rule such responses get none.
	Rules []Rule
	// StoreSetCookie stores responses carrying Set-Cookie with Set-Cookie
	// stripped from the entry (the client that caused the store still gets
	// it). Default false: such responses are not stored.
	StoreSetCookie bool
	// TagHeader names the response header listing the entry's tags
	// (comma or space separated) for PurgeTag. Default "Cache-Tag". It is
	// removed from responses sent to clients unless KeepTagHeader is set.
	TagHeader     string
	KeepTagHeader bool
	// MaxKeyBytes: a key longer than this (or holding '{' or '}') is
	// replaced by its SHA-256. Default 256.
	MaxKeyBytes int
	// RedisTimeout bounds each Redis call; on timeout or error the request
	// is answered by the handler (fail open). Default 250ms. It is enforced
	// through the call's context, which go-redis honours only when the
	// client has ContextTimeoutEnabled; otherwise the client's own read and
	// write timeouts apply.
	RedisTimeout time.Duration
	// RevalidateTimeout bounds a background (stale-while-revalidate)
	// revalidation. Default 30s.
	RevalidateTimeout time.Duration
	// GenerationRefresh is how often an instance rereads the generation
	// number PurgeAll increments: PurgeAll takes effect at once in the
	// calling process and within this delay in others. Default 1s.
	GenerationRefresh time.Duration
	// CacheStatusName is this cache's name in the Cache-Status header.
	// Default "rediskit". DisableCacheStatus omits the header.
	CacheStatusName    string
	DisableCacheStatus bool
	// ExposeKey adds key="…" (the request's URL key, see URLKey) to
	// Cache-Status of keyed requests. Default false.
	ExposeKey bool
	// OnError receives every Redis or storage error (the request itself is
	// still answered). It must be safe for concurrent use.
	OnError func(ctx context.Context, err error)
	// OnResult is told the outcome of every GET or HEAD request the cache
	// handled. It must be safe for concurrent use.
	OnResult func(r *http.Request, res Result)
}

// Cache is an RFC 9111 shared HTTP cache storing responses in Redis. It is
// safe for concurrent use. On a Redis error or timeout (RedisTimeout) it
// fails open: the handler answers the request and nothing is stored; the
// error goes to Options.OnError and Stats.Errors.
type Cache struct {
	c      *core.Client
	opts   Options
	hosts  map[string]bool
	ignore map[string]bool
	strip  []string
	flight flight
	bg     flight
	stats  stats

	genMu      sync.Mutex   // orders stores of gen between reads and PurgeAll
	gen        atomic.Int64 // -1 until read
	genRead    atomic.Int64 // unix nanos of the last read
	genLoading atomic.Bool  // a refresh is running
	genBumps   atomic.Int64 // PurgeAll calls in this process
	genFlight  singleflight.Group
	genFail    atomic.Pointer[genFailure] // last failed first read

	now func() time.Time
}

// New returns a Cache storing in c's Redis. It validates opts and fills
// defaults; it does not touch Redis.
func New(c *core.Client, opts Options) (*Cache, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core client", ErrInvalidOptions)
	}
	if err := fillDefaults(&opts); err != nil {
		return nil, err
	}
	hc := &Cache{c: c, opts: opts, hosts: map[string]bool{}, ignore: map[string]bool{}, now: time.Now}
	for _, h := range opts.Hosts {
		n := normalizeHost(h, "")
		if n == "" {
			return nil, fmt.Errorf("%w: empty host in Hosts", ErrInvalidOptions)
		}
		hc.hosts[n] = true
	}
	for _, q := range opts.IgnoreQuery {
		hc.ignore[q] = true
	}
	hc.strip = opts.StripHeaders
	if hc.strip == nil {
		hc.strip = DefaultStripHeaders
	}
	for _, r := range opts.Rules {
		if r.TTL <= 0 || !strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("%w: rule %q: prefix must start with / and TTL be positive", ErrInvalidOptions, r.Prefix)
		}
	}
	hc.gen.Store(-1)
	return hc, nil
}

func fillDefaults(o *Options) error {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"MaxTTL", &o.MaxTTL, DefaultMaxTTL},
		{"RedisTimeout", &o.RedisTimeout, DefaultRedisTimeout},
		{"RevalidateTimeout", &o.RevalidateTimeout, DefaultRevalidateTimeout},
		{"GenerationRefresh", &o.GenerationRefresh, DefaultGenerationRefresh},
	} {
		if *d.v < 0 {
			return fmt.Errorf("%w: negative %s", ErrInvalidOptions, d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.StaleRetention, DefaultStaleRetention}, {&o.MaxStaleWhileRevalidate, DefaultMaxStaleWindow}, {&o.MaxStaleIfError, DefaultMaxStaleWindow}} {
		if *d.v == 0 {
			*d.v = d.def
		} else if *d.v < 0 {
			*d.v = 0
		}
	}
	if o.MaxBodyBytes < 0 || o.MaxKeyBytes < 0 {
		return fmt.Errorf("%w: negative MaxBodyBytes or MaxKeyBytes", ErrInvalidOptions)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxKeyBytes == 0 {
		o.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if err := core.CheckNamespace(o.Namespace); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if o.TagHeader == "" {
		o.TagHeader = DefaultTagHeader
	}
	o.TagHeader = http.CanonicalHeaderKey(o.TagHeader)
	if o.CacheStatusName == "" {
		o.CacheStatusName = DefaultCacheStatusName
	}
	switch o.Scheme = strings.ToLower(o.Scheme); o.Scheme {
	case "", "http", "https":
	default:
		return fmt.Errorf("%w: scheme %q is neither http nor https", ErrInvalidOptions, o.Scheme)
	}
	if o.CanonicalHost != "" {
		o.CanonicalHost = normalizeHost(o.CanonicalHost, "")
	}
	return nil
}

// Middleware returns net/http middleware caching next's responses.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Serve(w, r, next, nil)
	})
}

func (c *Cache) reportError(ctx context.Context, err error) {
	c.stats.errors.Add(1)
	if c.opts.OnError != nil && err != nil {
		c.opts.OnError(ctx, err)
	}
}

// redisCtx derives the per-call context for one Redis call.
func (c *Cache) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.opts.RedisTimeout)
}
