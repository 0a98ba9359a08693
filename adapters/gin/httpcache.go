package ginadapter

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/httpcache"
)

// HTTPCacheConfig configures HTTPCacheWithConfig.
type HTTPCacheConfig struct {
	// Cache stores and serves the responses. Required.
	Cache *httpcache.Cache
	// Skipper, when it returns true, sends the request straight down the
	// chain: not looked up, not stored, no invalidation. Default: never
	// skip.
	Skipper func(*gin.Context) bool
}

// HTTPCache caches the responses of the handlers after it in c (RFC 9111
// shared-cache rules; see package httpcache), answering exactly as the
// net/http adapter does. It panics if c is nil.
func HTTPCache(c *httpcache.Cache) gin.HandlerFunc {
	return HTTPCacheWithConfig(HTTPCacheConfig{Cache: c})
}

// HTTPCacheWithConfig returns the caching middleware, httpcache.Cache's
// Serve. A response served from the cache aborts the chain (c.Abort). On a
// miss the rest of the chain runs with c.Writer writing through the cache,
// so what the handlers write (c.String, c.JSON, c.AbortWithStatus, ...) is
// what the cache sees, stores or not, and returns; c.Writer and c.Request
// are restored when it returns.
//
// With Options.Keys.IgnoreQuery the handlers get c.Request without the
// ignored parameters. Gin parses the query once per context, on the first
// c.Query (or c.QueryArray, c.DefaultQuery...): register HTTPCache before
// any middleware that reads the query, else c.Query in the handlers still
// returns the ignored parameters (r.URL.Query() never does). The parse made
// inside the chain stays, so a middleware before HTTPCache that reads
// c.Query after the chain also sees the query without them.
//
// A background revalidation (stale-while-revalidate) runs the route's main
// handler (c.Handler()) alone, after the request ended, on c.Copy(): with
// the same route, parameters and c.Keys values, but without the middleware
// registered between HTTPCache and the handler. It panics if cfg.Cache is
// nil.
func HTTPCacheWithConfig(cfg HTTPCacheConfig) gin.HandlerFunc {
	hc := cfg.Cache
	if hc == nil {
		panic("ginadapter: HTTPCacheWithConfig: nil *httpcache.Cache")
	}
	skip := cfg.Skipper
	return func(c *gin.Context) {
		r := requestOf(c)
		if skip != nil && skip(c) {
			c.Next()
			return
		}
		serve(c, r, hc.Serve)
	}
}

// Detach is called by the cache during the request, only when a background
// revalidation starts (see httpcache.Cache.Serve): Gin recycles c once the
// request ends, so the handler it returns runs the route's main handler on
// a copy of c (gin.Context.Copy), writing to the cache's writer.
func (ch *chain) Detach() http.Handler {
	h, cp := ch.c.Handler(), ch.c.Copy()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gw := newResponseWriter(w)
		cp.Writer, cp.Request = gw, r
		h(cp)
		gw.WriteHeaderNow()
	})
}
