package nethttp

import (
	"net/http"

	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimitOptions configures RateLimitWithOptions. The embedded
// ratelimit.HTTPOptions holds the limiter, cost, per-route limits, failure
// policy, headers and body format.
type RateLimitOptions struct {
	ratelimit.HTTPOptions

	// Key identifies the client. Default: ratelimit.KeyByIP(nil), the TCP
	// peer address (IPv6 by /64), ignoring forwarding headers; pass a
	// KeyByIP with a clientip.Resolver that lists your proxies to use them.
	Key ratelimit.KeyFunc
	// Skipper, when it returns true, lets a request through uncounted.
	Skipper func(*http.Request) bool
	// DenyHandler answers a denied request (429). The rate-limit headers,
	// Retry-After included, are already set. Default: the JSON body of
	// HTTPOptions.WriteError.
	DenyHandler func(w http.ResponseWriter, r *http.Request, v ratelimit.Verdict)
	// ErrorHandler answers a request whose key cannot be found (err wraps
	// ratelimit.ErrNoKey: 403 by default) or that fails closed (503 by
	// default).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// RateLimit limits requests per client IP (RemoteAddr) with l, failing open.
func RateLimit(l ratelimit.Limiter) func(http.Handler) http.Handler {
	return RateLimitWithOptions(RateLimitOptions{HTTPOptions: ratelimit.HTTPOptions{Limiter: l}})
}

// RateLimitWithOptions returns the rate-limit middleware: allowed requests
// get the RateLimit headers and reach next; denied ones get 429 with
// Retry-After; a limiter failure proceeds (fail open) or gets 503 (fail
// closed), never 429. It panics on an invalid configuration.
func RateLimitWithOptions(opts RateLimitOptions) func(http.Handler) http.Handler {
	if err := opts.Validate(); err != nil {
		panic("nethttp: RateLimitWithOptions: " + err.Error())
	}
	if opts.Key == nil {
		opts.Key = ratelimit.KeyByIP(nil)
	}
	if opts.DenyHandler == nil {
		opts.DenyHandler = func(w http.ResponseWriter, _ *http.Request, v ratelimit.Verdict) {
			opts.WriteError(w, http.StatusTooManyRequests, v)
		}
	}
	if opts.ErrorHandler == nil {
		opts.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			status := ratelimit.ErrorStatus(err)
			opts.WriteError(w, status, ratelimit.Verdict{Status: status, Err: err})
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opts.Skipper != nil && opts.Skipper(r) {
				next.ServeHTTP(w, r)
				return
			}
			key, err := opts.Key(r)
			if err != nil {
				opts.ErrorHandler(w, r, err)
				return
			}
			v := opts.Check(r, key)
			opts.WriteHeaders(w.Header(), v)
			switch v.Status {
			case 0:
				next.ServeHTTP(w, r)
			case http.StatusTooManyRequests:
				opts.DenyHandler(w, r, v)
			default:
				opts.ErrorHandler(w, r, v.Err)
			}
		})
	}
}
