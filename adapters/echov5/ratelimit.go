package echov5adapter

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rediskit/rediskit/internal/rlhttp"
	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimiterConfig configures the rate-limit middleware. Its field names
// and types follow Echo v5's own middleware.RateLimiterConfig; the
// embedded ratelimit.GuardOptions holds the limiter, key, cost, per-route
// limits, failure policy, headers and body format. (Its DenyHandler and
// ErrorHandler, net/http-shaped, are not used: set the Echo-shaped ones
// below.)
type RateLimiterConfig struct {
	ratelimit.GuardOptions

	// Skipper, when it returns true, lets a request through uncounted.
	// Default: never skip.
	Skipper middleware.Skipper
	// BeforeFunc runs before each counted request.
	BeforeFunc middleware.BeforeFunc
	// IdentifierExtractor, when set, identifies the client instead of Key,
	// for identifiers only the *echo.Context holds (c.Get values); it
	// costs a context value per request. Default: Key, itself by default
	// the TCP peer address (IPv6 by /64) through ratelimit.KeyByIP(nil);
	// never Echo's RealIP. Route parameters and the route (c.Path()) are
	// copied to the request first, so ratelimit.KeyByRoute(nil) and
	// Request.PathValue work as under net/http.
	IdentifierExtractor middleware.Extractor
	// ErrorHandler answers when the client cannot be identified (err wraps
	// ratelimit.ErrNoKey; default 403) or the limiter fails closed
	// (default 503, never 429). Default: writes the JSON body (as the
	// net/http adapter does) and returns an *echo.HTTPError wrapping err.
	ErrorHandler func(c *echo.Context, err error) error
	// DenyHandler answers a denied request; err wraps ratelimit.ErrLimited
	// (and ratelimit.ErrInvalidCost when the request's cost exceeds the
	// limit) and the rate-limit headers, Retry-After included, are already
	// set. Default: writes the 429 JSON body and returns a 429
	// *echo.HTTPError wrapping err. An *echo.HTTPError returned by a
	// handler of your own is rendered by Echo's error handler, as
	// {"message":"..."} by default.
	DenyHandler func(c *echo.Context, identifier string, err error) error
}

// DefaultRateLimiterConfig is the default configuration; set Limiter.
var DefaultRateLimiterConfig = RateLimiterConfig{Skipper: middleware.DefaultSkipper}

// RateLimiter limits requests per client IP (the TCP peer) with l, failing
// open. It panics if l is nil.
func RateLimiter(l ratelimit.Limiter) echo.MiddlewareFunc {
	cfg := DefaultRateLimiterConfig
	cfg.Limiter = l
	return RateLimiterWithConfig(cfg)
}

// RateLimiterWithConfig returns the rate-limit middleware (see
// ToMiddleware). It panics on an invalid configuration.
func RateLimiterWithConfig(cfg RateLimiterConfig) echo.MiddlewareFunc {
	return mustMiddleware(cfg.ToMiddleware())
}

// echoContextKey carries the *echo.Context to an IdentifierExtractor.
type echoContextKey struct{}

// ToMiddleware returns the rate-limit middleware: ratelimit.Guard's Serve,
// answering exactly as the net/http adapter does, with Echo-style errors.
// The handler's error is returned as is. It returns an error wrapping
// ratelimit.ErrInvalidOptions when the configuration has neither Limiter
// nor LimiterFor.
func (cfg RateLimiterConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultRateLimiterConfig.Skipper
	}
	opts := cfg.GuardOptions
	if opts.Key == nil {
		opts.Key = ratelimit.KeyByIP(nil)
	}
	key := opts.Key
	if cfg.IdentifierExtractor != nil {
		opts.Key = func(r *http.Request) (string, error) {
			c, _ := r.Context().Value(echoContextKey{}).(*echo.Context)
			if c == nil {
				return "", ratelimit.ErrNoKey
			}
			return cfg.IdentifierExtractor(c)
		}
	}
	opts.DenyHandler = func(w http.ResponseWriter, r *http.Request, res ratelimit.Result, err error) {
		x := w.(*echoCall)
		if cfg.DenyHandler == nil {
			x.err = writeError(x.c, cfg.ProblemJSON, http.StatusTooManyRequests, rlhttp.RetryAfter(res.RetryAfter), err)
			return
		}
		var id string
		if cfg.IdentifierExtractor != nil {
			id, _ = cfg.IdentifierExtractor(x.c)
		} else {
			id, _ = key(r)
		}
		x.err = cfg.DenyHandler(x.c, id, err)
	}
	opts.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		x := w.(*echoCall)
		if cfg.ErrorHandler != nil {
			x.err = cfg.ErrorHandler(x.c, err)
			return
		}
		status := http.StatusServiceUnavailable
		if errors.Is(err, ratelimit.ErrNoKey) {
			status = http.StatusForbidden
		}
		x.err = writeError(x.c, cfg.ProblemJSON, status, 0, err)
	}
	g, err := ratelimit.NewGuard(opts)
	if err != nil {
		return nil, err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := requestOf(c)
			if cfg.Skipper(c) {
				return next(c)
			}
			if cfg.BeforeFunc != nil {
				cfg.BeforeFunc(c)
			}
			if cfg.IdentifierExtractor != nil {
				r = r.WithContext(context.WithValue(r.Context(), echoContextKey{}, c))
			}
			x := &echoCall{ResponseWriter: c.Response(), c: c, next: next}
			g.Serve(x, r, x)
			return x.err
		}
	}, nil
}

// echoCall is one request through the middleware: the ResponseWriter the
// Guard writes headers to (Echo's response), the next handler it calls,
// and what the Echo middleware returns.
type echoCall struct {
	http.ResponseWriter
	c    *echo.Context
	next echo.HandlerFunc
	err  error
}

// ServeHTTP runs the next Echo handler with the Guard's request.
func (x *echoCall) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	x.c.SetRequest(r)
	x.err = x.next(x.c)
}

// writeError writes the rate limiter's JSON body (the net/http adapter's,
// byte for byte) and returns the matching *echo.HTTPError wrapping err:
// Echo v5's HTTPError renders only {"message":...}, and its error handler
// skips the committed response.
func writeError(c *echo.Context, problem bool, status, retryAfter int, err error) error {
	rlhttp.Body{Status: status, Problem: problem, RetryAfter: retryAfter}.Write(c.Response())
	return echo.NewHTTPError(status, http.StatusText(status)).Wrap(err)
}

// KeyFuncExtractor adapts a ratelimit.KeyFunc to a middleware.Extractor,
// for Echo's own middleware.RateLimiter with a Store (in RateLimiterConfig
// set Key instead). The route's parameters reach fn as path values.
func KeyFuncExtractor(fn ratelimit.KeyFunc) middleware.Extractor {
	return func(c *echo.Context) (string, error) { return fn(requestOf(c)) }
}

// Store plugs a ratelimit.Limiter into Echo's own middleware.RateLimiter:
// it implements middleware.RateLimiterStore (Allow) and
// middleware.RateLimiterStoreContext (AllowContext, which Echo v5 calls
// instead: the limiter then runs under the request's context, and a
// denial sets Retry-After). Echo's middleware answers a store error with
// its DenyHandler, whose default is 429; so the Store fails open by
// default (Allow returns true). With FailClosed it returns the error; then
// set StoreDenyHandler as DenyHandler to answer 503 instead of 429. Either
// way the limiter reports the failure to its own OnError (a
// ratelimit.RedisLimiter does). A Store is safe for concurrent use.
//
// Echo's default IdentifierExtractor is c.RealIP(), which believes the
// forwarding headers whenever an Echo#IPExtractor says so. To key on the
// TCP peer, or on the proxies a clientip.Resolver lists, set
// IdentifierExtractor to KeyFuncExtractor(ratelimit.KeyByIP(resolver))
// (nil: the TCP peer only):
//
//	e.Use(middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
//		Store:               echov5adapter.NewStore(limiter),
//		IdentifierExtractor: echov5adapter.KeyFuncExtractor(ratelimit.KeyByIP(nil)),
//		DenyHandler:         echov5adapter.StoreDenyHandler,
//	}))
type Store struct {
	// Limiter decides. Required.
	Limiter ratelimit.Limiter
	// FailClosed makes Allow return the limiter's error (Echo then calls
	// its DenyHandler) instead of allowing the request. Default false.
	FailClosed bool
}

var (
	_ middleware.RateLimiterStore        = (*Store)(nil)
	_ middleware.RateLimiterStoreContext = (*Store)(nil)
)

// NewStore returns a fail-open Store over l.
func NewStore(l ratelimit.Limiter) *Store { return &Store{Limiter: l} }

// Allow decides one request of identifier. The limiter's own Timeout
// bounds the call (the interface carries no context).
func (s *Store) Allow(identifier string) (bool, error) {
	ok, _, err := s.allow(context.Background(), identifier)
	return ok, err
}

// AllowContext decides one request of identifier under the request's
// context; a denied request gets Retry-After (whole seconds, at least 1).
func (s *Store) AllowContext(c *echo.Context, identifier string) (bool, error) {
	ok, res, err := s.allow(c.Request().Context(), identifier)
	if !ok && err == nil {
		c.Response().Header().Set("Retry-After", strconv.Itoa(rlhttp.RetryAfter(res.RetryAfter)))
	}
	return ok, err
}

func (s *Store) allow(ctx context.Context, identifier string) (bool, ratelimit.Result, error) {
	res, err := s.Limiter.Allow(ctx, identifier)
	if err != nil {
		if s.FailClosed {
			return false, res, err
		}
		return true, res, nil
	}
	return res.Allowed, res, nil
}

// StoreDenyHandler is a DenyHandler for Echo's middleware.RateLimiter with
// a Store: 503 when the store failed, 429 when it denied. Echo's error
// handler renders the *echo.HTTPError ({"message":...} by default).
func StoreDenyHandler(_ *echo.Context, _ string, err error) error {
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "rate limiter unavailable").Wrap(err)
	}
	return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded").Wrap(ratelimit.ErrLimited)
}

// mustMiddleware panics with the package prefix on a configuration error,
// as Echo's XxxWithConfig functions do.
func mustMiddleware(mw echo.MiddlewareFunc, err error) echo.MiddlewareFunc {
	if err != nil {
		panic("echov5adapter: " + err.Error())
	}
	return mw
}
