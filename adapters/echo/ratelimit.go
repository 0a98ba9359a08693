package echoadapter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimiterConfig configures RateLimiterWithConfig. Its field names follow
// Echo's own middleware.RateLimiterConfig; the embedded
// ratelimit.HTTPOptions holds the limiter, cost, per-route limits, failure
// policy, headers and body format.
type RateLimiterConfig struct {
	ratelimit.HTTPOptions

	// Skipper, when it returns true, lets a request through uncounted.
	// Default: never skip. (The func types are those of Echo's middleware
	// package, unnamed, so middleware.Skipper values can be assigned.)
	Skipper func(c echo.Context) bool
	// BeforeFunc runs before each counted request.
	BeforeFunc func(c echo.Context)
	// IdentifierExtractor identifies the client. Default: the TCP peer
	// address (IPv6 by /64) through ratelimit.KeyByIP(nil); never Echo's
	// RealIP, which believes any X-Forwarded-For. Use KeyFuncExtractor to
	// plug in a ratelimit.KeyFunc with trusted proxies.
	IdentifierExtractor func(c echo.Context) (string, error)
	// ErrorHandler answers when IdentifierExtractor fails (default 403) or
	// the limiter fails closed (default 503, never 429).
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

// KeyFuncExtractor adapts a ratelimit.KeyFunc to an IdentifierExtractor.
func KeyFuncExtractor(fn ratelimit.KeyFunc) func(c echo.Context) (string, error) {
	return func(c echo.Context) (string, error) { return fn(c.Request()) }
}

// RouteExtractor identifies requests by Echo route pattern (c.Path()), as
// "route:<pattern>"; combine it with a client key for per-route limits.
func RouteExtractor(c echo.Context) (string, error) {
	return ratelimit.KeyByRoute(func(*http.Request) string { return c.Path() })(c.Request())
}

// RateLimiterWithConfig returns the rate-limit middleware, answering exactly
// as the net/http adapter does. It panics on an invalid configuration.
func RateLimiterWithConfig(cfg RateLimiterConfig) echo.MiddlewareFunc {
	if err := cfg.Validate(); err != nil {
		panic("echoadapter: RateLimiterWithConfig: " + err.Error())
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultRateLimiterConfig.Skipper
	}
	if cfg.IdentifierExtractor == nil {
		cfg.IdentifierExtractor = KeyFuncExtractor(ratelimit.KeyByIP(nil))
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = func(c echo.Context, err error) error {
			return httpError(c, &cfg.HTTPOptions, ratelimit.ErrorStatus(err), 0, err)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			if cfg.BeforeFunc != nil {
				cfg.BeforeFunc(c)
			}
			id, err := cfg.IdentifierExtractor(c)
			if err != nil {
				if !errors.Is(err, ratelimit.ErrNoKey) {
					err = errors.Join(ratelimit.ErrNoKey, err)
				}
				return cfg.ErrorHandler(c, err)
			}
			v := cfg.Check(c.Request(), id)
			cfg.WriteHeaders(c.Response().Header(), v)
			switch v.Status {
			case 0:
				return next(c)
			case http.StatusTooManyRequests:
				return deny(c, &cfg, id, v)
			default:
				return cfg.ErrorHandler(c, v.Err)
			}
		}
	}
}

// deny answers a denied request through cfg.DenyHandler, by default with a
// 429 *echo.HTTPError.
func deny(c echo.Context, cfg *RateLimiterConfig, id string, v ratelimit.Verdict) error {
	err := ratelimit.ErrLimited
	if v.Err != nil { // a cost above the limit
		err = v.Err
	}
	if cfg.DenyHandler != nil {
		return cfg.DenyHandler(c, id, err)
	}
	return httpError(c, &cfg.HTTPOptions, http.StatusTooManyRequests, ratelimit.RetryAfterSeconds(v.Result), err)
}

// httpError returns an *echo.HTTPError whose Message renders as the shared
// ratelimit.ErrorBody; Echo's error handler keeps the Content-Type set here.
func httpError(c echo.Context, o *ratelimit.HTTPOptions, status, retryAfter int, err error) error {
	body := ratelimit.ErrorBody{Status: status, Problem: o.ProblemJSON, RetryAfter: retryAfter}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, body.ContentType())
	h.Set("Cache-Control", "no-store")
	return &echo.HTTPError{Code: status, Message: body, Internal: err}
}

// Store plugs a ratelimit.Limiter into Echo's own middleware.RateLimiter:
// it implements middleware.RateLimiterStore (Allow(identifier) (bool,
// error)). Echo's middleware answers a store error with its DenyHandler,
// whose default is 429; so the Store fails open by default (Allow returns
// true and reports the error to OnError). With FailClosed it returns the
// error; then set StoreDenyHandler as DenyHandler to answer 503 instead of
// 429. A Store is safe for concurrent use.
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
	// OnError is called with every limiter failure, either way. Default:
	// a Warn record "echoadapter: rate limiter store failed" with the error
	// through slog.Default() (the identifier is not logged: a custom
	// IdentifierExtractor may return a secret).
	OnError func(identifier string, err error)
}

var _ middleware.RateLimiterStore = (*Store)(nil)

// NewStore returns a fail-open Store over l.
func NewStore(l ratelimit.Limiter) *Store { return &Store{Limiter: l} }

// Allow decides one request of identifier. The limiter's own Timeout bounds
// the call (Echo's interface carries no context).
func (s *Store) Allow(identifier string) (bool, error) {
	res, err := s.Limiter.Allow(context.Background(), identifier)
	if err != nil {
		if s.OnError != nil {
			s.OnError(identifier, err)
		} else {
			slog.Warn("echoadapter: rate limiter store failed", "err", err)
		}
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
