package echoadapter

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/rediskit/rediskit/internal/rlhttp"
	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimiterConfig configures RateLimiterWithConfig. Its field names follow
// Echo's own middleware.RateLimiterConfig; the embedded
// ratelimit.GuardOptions holds the limiter, key, cost, per-route limits,
// failure policy, headers and body format. (Its DenyHandler and
// ErrorHandler are net/http-shaped: set the Echo-shaped ones below;
// RateLimiterWithConfig panics if the embedded ones are set.)
type RateLimiterConfig struct {
	ratelimit.GuardOptions

	// Skipper, when it returns true, lets a request through uncounted.
	// Default: never skip. (The func types are those of Echo's middleware
	// package, unnamed, so middleware.Skipper values can be assigned.)
	Skipper func(c echo.Context) bool
	// BeforeFunc runs before each counted request.
	BeforeFunc func(c echo.Context)
	// IdentifierExtractor, when set, identifies the client instead of Key,
	// for identifiers only the echo.Context holds (c.Get values); it costs
	// a context per request. Default: Key, itself by default the TCP peer
	// address (IPv6 by /64) through ratelimit.KeyByIP(nil); never Echo's
	// RealIP, which believes any X-Forwarded-For. Route parameters and
	// the route (c.Path()) are copied to the request, so
	// ratelimit.KeyByRoute(nil) and Request.PathValue work as under
	// net/http.
	IdentifierExtractor func(c echo.Context) (string, error)
	// ErrorHandler answers when the client cannot be identified (err wraps
	// ratelimit.ErrNoKey; default 403) or the limiter fails closed
	// (default 503, never 429). Default: an *echo.HTTPError with the JSON
	// body and Internal err.
	ErrorHandler func(c echo.Context, err error) error
	// DenyHandler answers a denied request; err wraps ratelimit.ErrLimited
	// (and ratelimit.ErrInvalidCost when the request's cost exceeds the
	// limit) and the rate-limit headers, Retry-After included, are already
	// set. Default: a 429 *echo.HTTPError with the JSON body.
	DenyHandler func(c echo.Context, identifier string, err error) error
}

// DefaultRateLimiterConfig is the default configuration; set Limiter.
var DefaultRateLimiterConfig = RateLimiterConfig{Skipper: func(echo.Context) bool { return false }}

// RateLimiter limits requests per client IP (RemoteAddr) with l, failing
// open.
func RateLimiter(l ratelimit.Limiter) echo.MiddlewareFunc {
	cfg := DefaultRateLimiterConfig
	cfg.Limiter = l
	return RateLimiterWithConfig(cfg)
}

// KeyFuncExtractor adapts a ratelimit.KeyFunc to an IdentifierExtractor
// (for Echo's own middleware.RateLimiter with a Store; in RateLimiterConfig
// set Key instead).
func KeyFuncExtractor(fn ratelimit.KeyFunc) func(c echo.Context) (string, error) {
	return func(c echo.Context) (string, error) { return fn(c.Request()) }
}

// echoContextKey carries the echo.Context to an IdentifierExtractor.
type echoContextKey struct{}

// RateLimiterWithConfig returns the rate-limit middleware: ratelimit.Guard's
// Serve, answering exactly as the net/http adapter does, with Echo-style
// errors. It panics on an invalid configuration.
func RateLimiterWithConfig(cfg RateLimiterConfig) echo.MiddlewareFunc {
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultRateLimiterConfig.Skipper
	}
	opts := cfg.GuardOptions
	if opts.DenyHandler != nil || opts.ErrorHandler != nil {
		panic("echoadapter: RateLimiterWithConfig: GuardOptions.DenyHandler and ErrorHandler are net/http-shaped; " +
			"set RateLimiterConfig.DenyHandler and ErrorHandler instead")
	}
	if opts.Key == nil {
		opts.Key = ratelimit.KeyByIP(nil)
	}
	key := opts.Key
	if cfg.IdentifierExtractor != nil {
		opts.Key = func(r *http.Request) (string, error) {
			c, _ := r.Context().Value(echoContextKey{}).(echo.Context)
			if c == nil {
				return "", ratelimit.ErrNoKey
			}
			return cfg.IdentifierExtractor(c)
		}
	}
	opts.DenyHandler = func(w http.ResponseWriter, r *http.Request, res ratelimit.Result, err error) {
		x := w.(*echoCall)
		if cfg.DenyHandler == nil {
			x.err = httpError(x.c, cfg.ProblemJSON, http.StatusTooManyRequests, rlhttp.RetryAfter(res.RetryAfter), err)
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
		x.err = httpError(x.c, cfg.ProblemJSON, status, 0, err)
	}
	g, err := ratelimit.NewGuard(opts)
	if err != nil {
		panic("echoadapter: RateLimiterWithConfig: " + err.Error())
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
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
	}
}

// echoCall is one request through the middleware: the ResponseWriter the
// Guard writes headers to (Echo's response), the next handler it calls,
// and what the Echo middleware returns.
type echoCall struct {
	http.ResponseWriter
	c    echo.Context
	next echo.HandlerFunc
	err  error
}

// ServeHTTP runs the next Echo handler with the Guard's request.
func (x *echoCall) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	x.c.SetRequest(r)
	x.err = x.next(x.c)
}

// httpError returns an *echo.HTTPError whose Message renders the rate
// limiter's JSON body; Echo's error handler keeps the Content-Type set here.
func httpError(c echo.Context, problem bool, status, retryAfter int, err error) error {
	body := rlhttp.Body{Status: status, Problem: problem, RetryAfter: retryAfter}
	body.SetHeaders(c.Response().Header())
	return &echo.HTTPError{Code: status, Message: body, Internal: err}
}

// Store plugs a ratelimit.Limiter into Echo's own middleware.RateLimiter:
// it implements middleware.RateLimiterStore (Allow(identifier) (bool,
// error)). Echo's middleware answers a store error with its DenyHandler,
// whose default is 429; so the Store fails open by default (Allow returns
// true). With FailClosed it returns the error; then set StoreDenyHandler as
// DenyHandler to answer 503 instead of 429. Either way the limiter reports
// the failure to its own OnError (a ratelimit.RedisLimiter does). A Store
// is safe for concurrent use.
//
// Echo's default IdentifierExtractor is c.RealIP(), which believes any
// X-Forwarded-For a client sends: every request can claim a fresh bucket.
// Set IdentifierExtractor to KeyFuncExtractor(ratelimit.KeyByIP(resolver))
// instead, with a clientip.Resolver that lists your proxies (nil: the TCP
// peer only):
//
//	e.Use(middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
//		Store:               echoadapter.NewStore(limiter),
//		IdentifierExtractor: echoadapter.KeyFuncExtractor(ratelimit.KeyByIP(nil)),
//		DenyHandler:         echoadapter.StoreDenyHandler,
//	}))
type Store struct {
	// Limiter decides. Required.
	Limiter ratelimit.Limiter
	// FailClosed makes Allow return the limiter's error (Echo then calls
	// its DenyHandler) instead of allowing the request. Default false.
	FailClosed bool
}

var _ middleware.RateLimiterStore = (*Store)(nil)

// NewStore returns a fail-open Store over l.
func NewStore(l ratelimit.Limiter) *Store { return &Store{Limiter: l} }

// Allow decides one request of identifier. The limiter's own Timeout bounds
// the call (Echo's interface carries no context).
func (s *Store) Allow(identifier string) (bool, error) {
	res, err := s.Limiter.Allow(context.Background(), identifier)
	if err != nil {
		if s.FailClosed {
			return false, err
		}
		return true, nil
	}
	return res.Allowed, nil
}

// StoreDenyHandler is a DenyHandler for Echo's middleware.RateLimiter with a
// Store: 503 when the store failed, 429 when it denied.
func StoreDenyHandler(c echo.Context, _ string, err error) error {
	if err != nil {
		return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: "rate limiter unavailable", Internal: err}
	}
	return &echo.HTTPError{Code: http.StatusTooManyRequests, Message: "rate limit exceeded", Internal: ratelimit.ErrLimited}
}
