package echoadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/rediskit/rediskit/httpcache"
)

// HTTPCacheConfig configures HTTPCacheWithConfig.
type HTTPCacheConfig struct {
	// Skipper, when it returns true, sends the request straight to the
	// handler: not looked up, not stored, no invalidation.
	// Default: never skip. Echo's middleware.Skipper values fit.
	Skipper func(c echo.Context) bool
	// Cache stores and serves the responses. Required.
	Cache *httpcache.Cache
}

// DefaultHTTPCacheConfig is the default configuration; set Cache.
var DefaultHTTPCacheConfig = HTTPCacheConfig{Skipper: func(echo.Context) bool { return false }}

// HTTPCache caches the handlers' responses in c, answering exactly as the
// net/http adapter does. It panics if c is nil.
func HTTPCache(c *httpcache.Cache) echo.MiddlewareFunc {
	cfg := DefaultHTTPCacheConfig
	cfg.Cache = c
	return HTTPCacheWithConfig(cfg)
}

// HTTPCacheWithConfig returns the caching middleware. A handler's error is
// handed to Echo's error handler (c.Error) inside the middleware, so the
// response it writes is what the cache sees, stores or not, and returns;
// the middleware then returns nil. Background revalidations
// (stale-while-revalidate) run the route's handler chain on a fresh
// echo.Context with the same path and parameters but without values other
// middleware set with c.Set. It panics if cfg.Cache is nil.
func HTTPCacheWithConfig(cfg HTTPCacheConfig) echo.MiddlewareFunc {
	if cfg.Cache == nil {
		panic("echoadapter: HTTPCache: nil *httpcache.Cache")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultHTTPCacheConfig.Skipper
	}
	hc := cfg.Cache
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			hc.Serve(c.Response(), c.Request(), foreground(c, next), background(c, next))
			return nil
		}
	}
}

// foreground runs next on c itself, writing to the cache's writer through a
// temporary echo.Response so Echo's error handler writes there too.
func foreground(c echo.Context, next echo.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig, origReq := c.Response(), c.Request()
		c.SetResponse(echo.NewResponse(w, c.Echo()))
		c.SetRequest(r)
		defer func() {
			c.SetResponse(orig)
			c.SetRequest(origReq)
		}()
		if err := next(c); err != nil {
			c.Error(err)
		}
	})
}

// background runs next on a fresh context: c is recycled once the request
// ends.
func background(c echo.Context, next echo.HandlerFunc) http.Handler {
	e, path := c.Echo(), c.Path()
	names := append([]string(nil), c.ParamNames()...)
	values := append([]string(nil), c.ParamValues()...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ec := e.NewContext(r, w)
		ec.SetPath(path)
		ec.SetParamNames(names...)
		ec.SetParamValues(values...)
		if err := next(ec); err != nil {
			ec.Error(err)
		}
	})
}
