package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/keypart"
	"github.com/rediskit/rediskit/internal/report"
)

// Defaults applied by New to zero Options fields. The other defaults are
// stated on each field.
const (
	DefaultNamespace = "httpcache"
	DefaultTimeout   = 250 * time.Millisecond
)

// Defaults of the fields that do not have an exported constant.
const (
	defaultMaxBodyBytes      = 1 << 20
	defaultMaxTTL            = 24 * time.Hour
	defaultStaleRetention    = 10 * time.Minute
	defaultMaxStaleWindow    = time.Hour
	defaultRevalidateTimeout = 30 * time.Second
	defaultGenerationRefresh = time.Second
	defaultMaxKeyBytes       = 256
	defaultTagHeader         = "Cache-Tag"
	defaultCacheStatusName   = "rediskit"
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
	// Timeout bounds each Redis call; on timeout or error the request is
	// answered by the handler (fail open). Default 250ms. All the calls of
	// one request together also stay within the client's request budget
	// (core.Config.RequestBudget), which Serve attaches. It is enforced
	// through the call's context, which go-redis honours only when the
	// client has ContextTimeoutEnabled (core.New sets it); otherwise the
	// client's own read and write timeouts apply.
	Timeout time.Duration
	// RevalidateTimeout bounds a background (stale-while-revalidate)
	// revalidation. Default 30s.
	RevalidateTimeout time.Duration
	// GenerationRefresh is how often an instance rereads the generation
	// number PurgeAll increments: PurgeAll takes effect at once in the
	// calling process and within this delay in others. Default 1s.
	GenerationRefresh time.Duration
	// Keys says how a request is keyed.
	Keys KeyOptions
	// Storage says what is stored and for how long.
	Storage StorageOptions
	// Collapse configures collapsing of concurrent misses across instances.
	Collapse CollapseOptions
	// Local configures the coherent in-process tier (off by default).
	Local LocalOptions
	// CacheStatus configures the Cache-Status response header.
	CacheStatus StatusOptions
	// OnError receives every Redis or storage error (the request itself is
	// still answered); when the error happened while serving a request,
	// core.RequestFromContext(ctx) returns that request. It must be safe
	// for concurrent use. Default: a rate-limited slog warning (at most one
	// record a second, counting the ones it suppressed).
	OnError core.ErrorHandler
	// OnResult is told the outcome of every GET or HEAD request the cache
	// handled. It must be safe for concurrent use.
	OnResult func(r *http.Request, res Result)
}

// KeyOptions says how requests are keyed (see the package doc, Keys).
type KeyOptions struct {
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
	// MaxKeyBytes is the longest key stored as it is: a longer key (or one
	// holding '{' or '}', or starting with '#') is replaced by "#" and the
	// hex of its SHA-256's first 16 bytes. Default 256.
	MaxKeyBytes int
}

// StorageOptions says which responses are stored and for how long.
type StorageOptions struct {
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
	// Without a matching rule such responses get heuristic freshness.
	Rules []Rule
	// MaxHeuristicFreshness caps the heuristic freshness lifetime (RFC
	// 9111 §4.2.2: 10% of the time since Last-Modified) of responses
	// without explicit freshness and without a matching Rule. Default 24h;
	// negative turns heuristic freshness off (such responses are then
	// stored stale, for revalidation).
	MaxHeuristicFreshness time.Duration
	// StoreSetCookie stores responses carrying Set-Cookie with Set-Cookie
	// stripped from the entry (the client that caused the store still gets
	// it). Default false: such responses are not stored.
	StoreSetCookie bool
	// TagHeader names the response header listing the entry's tags
	// (comma or space separated) for PurgeTag. Default "Cache-Tag". It is
	// removed from responses sent to clients unless KeepTagHeader is set.
	TagHeader     string
	KeepTagHeader bool
	// IgnoreSurrogateControl makes the cache read Cache-Control only. By
	// default a response's Surrogate-Control directives (untargeted, or
	// targeted at CacheStatus.Name) win over Cache-Control for this cache
	// (see the package doc), the header is removed from responses sent to
	// clients, and requests to the handler carry Surrogate-Capability.
	IgnoreSurrogateControl bool
}

// StatusOptions configures the Cache-Status header (RFC 9211).
type StatusOptions struct {
	// Name is this cache's name in the header. Default "rediskit".
	Name string
	// Disable omits the header.
	Disable bool
	// ExposeKey adds key="…" (the request's URL key, see URLKey) to the
	// member of keyed requests. Default false.
	ExposeKey bool
}

// defaultOnError is the OnError of every Cache that sets none: one
// rate-limited report for the package, not one per Cache.
var defaultOnError core.ErrorHandler = report.Default("httpcache")

// Cache is an RFC 9111 shared HTTP cache storing responses in Redis. It is
// safe for concurrent use. On a Redis error or timeout (Options.Timeout, or
// the request budget) it fails open: the handler answers the request and
// nothing is stored; the error goes to Options.OnError and Stats.Errors.
type Cache struct {
	c       *core.Client
	opts    Options
	onError core.ErrorHandler
	hosts   map[string]bool
	ignore  map[string]bool
	strip   []string
	flight  flight
	bg      flight
	stats   stats
	local   *local // nil: no in-process tier
	gets    *batch.Batcher[getReq, getIndex]
	// keyPrefix is the key prefix of the generation last used.
	keyPrefix atomic.Pointer[genKeys]
	gen       *generation.Cache
	obs       core.Observer // nil: no fetch spans
	wait      call.Wait     // nil: Redis waits not reported

	now func() time.Time
	// surrogateCapability is this cache's Surrogate-Capability value.
	surrogateCapability string
}

// New returns a Cache storing in c's Redis. It validates opts and fills
// defaults; it does not touch Redis, except that with Options.Local it
// starts the in-process tier's subscription in the background (stop it
// with Close).
func New(c *core.Client, opts Options) (*Cache, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core client", ErrInvalidOptions)
	}
	if err := fillDefaults(&opts); err != nil {
		return nil, err
	}
	hc := &Cache{c: c, opts: opts, onError: opts.OnError,
		hosts: map[string]bool{}, ignore: map[string]bool{}, now: time.Now,
		obs: c.Observer(), wait: call.Observe(c.Observer(), "httpcache")}
	if hc.onError == nil {
		hc.onError = defaultOnError
	}
	hc.gets = hc.newGets()
	for _, h := range opts.Keys.Hosts {
		n := normalizeHost(h, "")
		if n == "" {
			return nil, fmt.Errorf("%w: empty host in Keys.Hosts", ErrInvalidOptions)
		}
		hc.hosts[n] = true
	}
	for _, q := range opts.Keys.IgnoreQuery {
		hc.ignore[q] = true
	}
	hc.surrogateCapability = opts.CacheStatus.Name + `="Surrogate/1.0"`
	hc.strip = opts.Keys.StripHeaders
	if hc.strip == nil {
		hc.strip = DefaultStripHeaders
	}
	for _, r := range opts.Storage.Rules {
		if r.TTL <= 0 || !strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("%w: rule %q: prefix must start with / and TTL be positive", ErrInvalidOptions, r.Prefix)
		}
	}
	hc.gen = generation.New(c, core.MakeKey(opts.Namespace, "gen"), opts.GenerationRefresh, opts.Timeout,
		hc.callCtx, func(ctx context.Context, err error) { hc.reportError(ctx, fmt.Errorf("httpcache: %w", err)) })
	if opts.Local.MaxBytes > 0 {
		hc.startLocal()
	}
	return hc, nil
}

func fillDefaults(o *Options) error {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Storage.MaxTTL", &o.Storage.MaxTTL, defaultMaxTTL},
		{"Timeout", &o.Timeout, DefaultTimeout},
		{"RevalidateTimeout", &o.RevalidateTimeout, defaultRevalidateTimeout},
		{"GenerationRefresh", &o.GenerationRefresh, defaultGenerationRefresh},
		{"Collapse.LeaseTTL", &o.Collapse.LeaseTTL, defaultLeaseTTL},
		{"Local.MaxDelay", &o.Local.MaxDelay, defaultLocalMaxDelay},
	} {
		if *d.v < 0 {
			return fmt.Errorf("%w: negative %s", ErrInvalidOptions, d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	switch {
	case o.Collapse.LeaseWait < 0:
		return fmt.Errorf("%w: negative Collapse.LeaseWait", ErrInvalidOptions)
	case o.Collapse.LeaseWait == 0:
		o.Collapse.LeaseWait = o.Collapse.LeaseTTL
	}
	st := &o.Storage
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&st.StaleRetention, defaultStaleRetention}, {&st.MaxHeuristicFreshness, defaultMaxHeuristic}, {&st.MaxStaleWhileRevalidate, defaultMaxStaleWindow}, {&st.MaxStaleIfError, defaultMaxStaleWindow}} {
		if *d.v == 0 {
			*d.v = d.def
		} else if *d.v < 0 {
			*d.v = 0
		}
	}
	if st.MaxBodyBytes < 0 || o.Keys.MaxKeyBytes < 0 || o.Local.MaxBytes < 0 {
		return fmt.Errorf("%w: negative Storage.MaxBodyBytes, Keys.MaxKeyBytes or Local.MaxBytes", ErrInvalidOptions)
	}
	if st.MaxBodyBytes == 0 {
		st.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.Keys.MaxKeyBytes == 0 {
		o.Keys.MaxKeyBytes = defaultMaxKeyBytes
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if err := keypart.CheckNamespace(o.Namespace); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if st.TagHeader == "" {
		st.TagHeader = defaultTagHeader
	}
	st.TagHeader = http.CanonicalHeaderKey(st.TagHeader)
	if o.CacheStatus.Name == "" {
		o.CacheStatus.Name = defaultCacheStatusName
	}
	switch o.Keys.Scheme = strings.ToLower(o.Keys.Scheme); o.Keys.Scheme {
	case "", "http", "https":
	default:
		return fmt.Errorf("%w: scheme %q is neither http nor https", ErrInvalidOptions, o.Keys.Scheme)
	}
	if o.Keys.CanonicalHost != "" {
		o.Keys.CanonicalHost = normalizeHost(o.Keys.CanonicalHost, "")
	}
	return nil
}

// reportError counts err and hands it to OnError. ctx carries the request
// (report.WithRequest) when err happened while serving one.
func (c *Cache) reportError(ctx context.Context, err error) {
	c.stats.errors.Add(1)
	if err != nil {
		c.onError(ctx, err)
	}
}

// requestError reports err that happened while serving r.
func (c *Cache) requestError(r *http.Request, err error) {
	c.reportError(report.WithRequest(r.Context(), r), err)
}

// callCtx is the context of one Redis call made with ctx that must finish
// even when ctx's caller gives up (a store, a tag write, a generation
// read): Options.Timeout, and the request budget ctx carries.
func (c *Cache) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return call.Context(context.WithoutCancel(ctx), c.opts.Timeout, c.wait)
}
