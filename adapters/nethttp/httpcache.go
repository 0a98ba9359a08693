package nethttp

import (
	"net/http"

	"github.com/rediskit/rediskit/httpcache"
)

// HTTPCacheOptions configures HTTPCacheWithOptions.
type HTTPCacheOptions struct {
	// Cache stores and serves the responses. Required.
	Cache *httpcache.Cache
	// Skipper, when it returns true, sends the request straight to the
	// handler: not looked up, not stored, no invalidation.
	Skipper func(*http.Request) bool
}

// HTTPCache caches next's responses in c (RFC 9111 shared-cache rules; see
// package httpcache). It panics if c is nil.
func HTTPCache(c *httpcache.Cache) func(http.Handler) http.Handler {
	return HTTPCacheWithOptions(HTTPCacheOptions{Cache: c})
}

// HTTPCacheWithOptions returns the caching middleware. It panics if
// opts.Cache is nil.
func HTTPCacheWithOptions(opts HTTPCacheOptions) func(http.Handler) http.Handler {
	if opts.Cache == nil {
		panic("nethttp: HTTPCache: nil *httpcache.Cache")
	}
	c, skip := opts.Cache, opts.Skipper
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip != nil && skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			c.Serve(w, r, next)
		})
	}
}
