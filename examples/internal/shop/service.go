package shop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/memo"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// MaxBodyBytes caps the body of PUT /products/{id}.
const MaxBodyBytes = 1 << 20

// productDelay is the simulated database latency of every catalog load.
const productDelay = 50 * time.Millisecond

// readTimeout bounds the reads of view counts, so a slow Redis cannot hold
// a request for longer.
const readTimeout = 500 * time.Millisecond

// ErrBadRequest marks input the client must fix; its message says what.
var ErrBadRequest = errors.New("bad request")

// Config tunes a Service. The zero value is valid.
type Config struct {
	RateLimit      int            // requests per RateWindow on /api/limited; default 5
	RateWindow     time.Duration  // default 10 s
	TrustedProxies []netip.Prefix // proxies whose X-Forwarded-For is believed; default none
	FlushInterval  time.Duration  // view-count flush interval; default 1 s
	Logger         *slog.Logger   // where failures are reported; default slog.Default()
	Namespace      string         // prefix of every Redis key; default "shop"
	LimiterTimeout time.Duration  // bound of one rate-limit decision; default ratelimit.DefaultTimeout (50 ms)
}

// Service holds the example's domain and the rediskit features around it.
// Its fields are what the HTTP layers wire into routes.
type Service struct {
	Catalog  *Catalog
	Products *memo.Func[string, Product] // memoized Catalog.Load
	Views    *viewcount.Counter          // article views, buffered
	Cache    *httpcache.Cache            // response cache
	IPs      *clientip.Resolver          // client IPs under the trusted-proxy rules
	Log      *slog.Logger

	limiter ratelimit.Limiter // for GET /api/limited
	checks  []func(context.Context) error
}

// Check runs every feature's start-up check: each command the feature needs
// is tried on a probe key in its own namespace, so a missing ACL permission
// is reported at start, naming the command, rather than on the first request.
func (s *Service) Check(ctx context.Context) error {
	var errs []error
	for _, check := range s.checks {
		errs = append(errs, check(ctx))
	}
	return errors.Join(errs...)
}

// New wires the features on c.
func New(c *core.Client, cfg Config) (*Service, error) {
	cfg = withDefaults(cfg)
	s := &Service{Catalog: NewCatalog(productDelay), Log: cfg.Logger}
	var err error
	if s.IPs, err = clientip.New(clientip.Options{TrustedProxies: cfg.TrustedProxies}); err != nil {
		return nil, err
	}
	s.Products, err = memo.Wrap(c, "product", s.Catalog.Load, memo.Options{
		Namespace:   core.MakeKey(cfg.Namespace, "memo"),
		TTL:         time.Minute,
		NotFound:    ErrNoProduct, // unknown ids are cached too, for NegativeTTL
		NegativeTTL: 10 * time.Second,
		Lease:       true,
		OnError:     func(_ context.Context, err error) { s.Log.Warn("memo", "err", err) },
	})
	if err != nil {
		return nil, err
	}
	limiter, err := ratelimit.NewFixedWindow(c, ratelimit.Options{
		Limit:     cfg.RateLimit,
		Window:    cfg.RateWindow,
		Namespace: core.MakeKey(cfg.Namespace, "ratelimit"),
		Timeout:   cfg.LimiterTimeout,
		OnError:   func(_ context.Context, err error) { s.Log.Warn("ratelimit", "err", err) },
	})
	if err != nil {
		return nil, err
	}
	s.limiter = limiter
	viewSecret := make([]byte, 32) // the HMAC key of visitor ids, random per process
	_, _ = rand.Read(viewSecret)
	if s.Views, err = viewcount.New(c, viewcount.Options{
		Namespace:     core.MakeKey(cfg.Namespace, "views"),
		Secret:        viewSecret,
		Mode:          viewcount.Buffered,
		FlushInterval: cfg.FlushInterval,
		// Failed flushes (kept and retried), failed records: a warning.
		OnError: func(_ context.Context, err error) { s.Log.Warn("viewcount", "err", err) },
		// Views given up on (also reported to OnError): an error.
		OnDrop: func(n int64, err error) { s.Log.Error("view counts dropped", "views", n, "err", err) },
	}); err != nil {
		return nil, err
	}
	if s.Cache, err = httpcache.New(c, httpcache.Options{
		Namespace: core.MakeKey(cfg.Namespace, "httpcache"),
		OnError:   func(_ context.Context, err error) { s.Log.Warn("httpcache", "err", err) },
	}); err != nil {
		// Stop the view counter's flush loop; it has counted nothing yet.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return nil, errors.Join(err, s.Views.Close(ctx))
	}
	s.checks = []func(context.Context) error{s.Products.Check, limiter.Check, s.Views.Check, s.Cache.Check}
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 5
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "shop"
	}
	return cfg
}

// LimitOptions is the HTTP rate limiting of GET /api/limited: per client
// IP under the trusted-proxy rules, failing open (the limiter logs the
// failure).
func (s *Service) LimitOptions() ratelimit.GuardOptions {
	return ratelimit.GuardOptions{
		Limiter: s.limiter,
		Key:     ratelimit.KeyByIP(s.IPs),
	}
}

// ViewTracker returns the HTTP view-tracking logic for article routes, with
// item the route's article slug (the {slug} wildcard, or :slug under Echo).
// Visitors are client IPs (hashed with the view secret); curl and Go
// clients count as visitors rather than bots so the README's curl
// walk-through shows real numbers.
func (s *Service) ViewTracker() (*viewcount.Tracker, error) {
	patterns := slices.DeleteFunc(slices.Clone(viewcount.DefaultBotPatterns), func(p string) bool {
		return p == "curl/" || p == "go-http-client"
	})
	return viewcount.NewTracker(s.Views, viewcount.TrackerOptions{
		Item:    viewcount.ItemPathValue("slug"),
		Visitor: viewcount.VisitorIP(s.IPs),
		IsBot:   viewcount.NewBotClassifier(patterns),
	})
}

// UpdateProduct decodes a product from body (at most MaxBodyBytes of JSON),
// stores it under id and forgets the memoized copy, so the next read loads
// the new value. Input errors match ErrBadRequest.
func (s *Service) UpdateProduct(ctx context.Context, id string, body io.Reader) (Product, error) {
	var p Product
	dec := json.NewDecoder(io.LimitReader(body, MaxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Product{}, fmt.Errorf("%w: invalid product JSON: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return Product{}, fmt.Errorf("%w: trailing data after the product JSON", ErrBadRequest)
	}
	if p.ID != "" && p.ID != id {
		return Product{}, fmt.Errorf("%w: body id %q does not match the URL id %q", ErrBadRequest, p.ID, id)
	}
	if strings.TrimSpace(p.Name) == "" || p.PriceCents < 0 {
		return Product{}, fmt.Errorf("%w: a product needs a name and a non-negative price_cents", ErrBadRequest)
	}
	p.ID = id
	s.Catalog.Put(p)
	if err := s.Products.Forget(ctx, id); err != nil {
		return p, fmt.Errorf("product stored, but its cached copy could not be forgotten: %w", err)
	}
	return p, nil
}

// ArticleViews reads the counts of an article: total, unique and today
// (as JSON {"total":…,"unique":…,"today":…}; "bots" too when there are).
func (s *Service) ArticleViews(ctx context.Context, slug string) (viewcount.Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return s.Views.Counts(ctx, slug, 0)
}

// TopArticles returns the n most viewed articles of the current day (UTC),
// each as JSON {"item":…,"views":…}.
func (s *Service) TopArticles(ctx context.Context, n int) ([]viewcount.Ranked, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return s.Views.Top(ctx, n, 24*time.Hour)
}

// Close flushes buffered view counts within ctx.
func (s *Service) Close(ctx context.Context) error { return s.Views.Close(ctx) }

// ParseTopN reads the n of GET /articles/top: default 10, at most 100.
func ParseTopN(s string) (int, error) {
	if s == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("n must be an integer from 1 to 100, got %q", s)
	}
	return n, nil
}

// MaxIDBytes caps product ids and article slugs: longer ones are rejected
// with 400 (and never echoed back whole).
const MaxIDBytes = 128

// CheckID rejects an id (what names it: "product id", "article slug") that
// is empty, longer than MaxIDBytes, not UTF-8 or holds a control character
// (NUL included). The error matches ErrBadRequest and quotes at most a
// short prefix of the id.
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrBadRequest, what)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%w: %s of %d bytes, longer than the %d allowed", ErrBadRequest, what, len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadRequest, what)
	}
	for i, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s holds a control character (%U at byte %d)", ErrBadRequest, what, r, i)
		}
	}
	return nil
}
