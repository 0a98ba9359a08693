package ginadapter

import (
	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/ratelimit"
)

// RateLimitConfig configures RateLimitWithConfig. The embedded
// ratelimit.GuardOptions holds the limiter, key, cost, per-route limits,
// failure policy, headers, body format and handlers; its DenyHandler and
// ErrorHandler get c.Writer (a gin.ResponseWriter) and the request.
type RateLimitConfig struct {
	ratelimit.GuardOptions

	// Skipper, when it returns true, lets a request through uncounted.
	// Default: never skip. Route parameters and the route are already in
	// c.Request (r.PathValue, r.Pattern) when it runs.
	Skipper func(*gin.Context) bool
}

// RateLimit limits requests per client IP (the TCP peer, RemoteAddr; never
// Gin's c.ClientIP) with l, failing open.
func RateLimit(l ratelimit.Limiter) gin.HandlerFunc {
	return RateLimitWithConfig(RateLimitConfig{GuardOptions: ratelimit.GuardOptions{Limiter: l}})
}

// RateLimitWithConfig returns the rate-limit middleware, ratelimit.Guard's
// Serve, answering exactly as the net/http adapter does: allowed requests
// get the RateLimit headers and go on down the chain; denied ones get 429
// with Retry-After; a request whose client cannot be identified gets 403;
// a limiter failure proceeds (fail open) or gets 503 (fail closed), never
// 429. A request answered here aborts the chain (c.Abort). Route
// parameters and the route (c.FullPath()) are copied to the request first,
// so ratelimit.KeyByRoute(nil) keys by Gin's route. It panics on an invalid
// configuration.
func RateLimitWithConfig(cfg RateLimitConfig) gin.HandlerFunc {
	g, err := ratelimit.NewGuard(cfg.GuardOptions)
	if err != nil {
		panic("ginadapter: RateLimitWithConfig: " + err.Error())
	}
	skip := cfg.Skipper
	return func(c *gin.Context) {
		r := requestOf(c)
		if skip != nil && skip(c) {
			c.Next()
			return
		}
		serve(c, r, g.Serve)
	}
}
