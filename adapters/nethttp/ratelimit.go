package nethttp

import (
	"net/http"

	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimitOptions configures RateLimitWithOptions. The embedded
// ratelimit.GuardOptions holds the limiter, key, cost, per-route limits,
// failure policy, headers, body format and handlers.
type RateLimitOptions struct {
	ratelimit.GuardOptions

	// Skipper, when it returns true, lets a request through uncounted.
	Skipper func(*http.Request) bool
}

// RateLimit limits requests per client IP (RemoteAddr) with l, failing open.
func RateLimit(l ratelimit.Limiter) func(http.Handler) http.Handler {
	return RateLimitWithOptions(RateLimitOptions{GuardOptions: ratelimit.GuardOptions{Limiter: l}})
}

// RateLimitWithOptions returns the rate-limit middleware, ratelimit.Guard's
// Serve: allowed requests get the RateLimit headers and reach next; denied
// ones get 429 with Retry-After; a request whose client cannot be
// identified gets 403; a limiter failure proceeds (fail open) or gets 503
// (fail closed), never 429. It panics on an invalid configuration.
func RateLimitWithOptions(opts RateLimitOptions) func(http.Handler) http.Handler {
	g, err := ratelimit.NewGuard(opts.GuardOptions)
	if err != nil {
		panic("nethttp: RateLimitWithOptions: " + err.Error())
	}
	skip := opts.Skipper
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip != nil && skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			g.Serve(w, r, next)
		})
	}
}
