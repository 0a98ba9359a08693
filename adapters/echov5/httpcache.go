package echov5adapter

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rediskit/rediskit/httpcache"
)

// HTTPCacheConfig configures the caching middleware.
type HTTPCacheConfig struct {
	// Skipper, when it returns true, sends the request straight to the
	// handler: not looked up, not stored, no invalidation.
	// Default: never skip.
	Skipper middleware.Skipper
	// Cache stores and serves the responses. Required.
	Cache *httpcache.Cache
}

// DefaultHTTPCacheConfig is the default configuration; set Cache.
var DefaultHTTPCacheConfig = HTTPCacheConfig{Skipper: middleware.DefaultSkipper}

// HTTPCache caches the handlers' responses in c, answering exactly as the
// net/http adapter does. It panics if c is nil.
func HTTPCache(c *httpcache.Cache) echo.MiddlewareFunc {
	cfg := DefaultHTTPCacheConfig
	cfg.Cache = c
	return HTTPCacheWithConfig(cfg)
}

// HTTPCacheWithConfig returns the caching middleware (see ToMiddleware).
// It panics if cfg.Cache is nil.
func HTTPCacheWithConfig(cfg HTTPCacheConfig) echo.MiddlewareFunc {
	return mustMiddleware(cfg.ToMiddleware())
}

// ToMiddleware returns the caching middleware (httpcache.Cache.Serve). A
// handler's error is handed to Echo's HTTPErrorHandler inside the
// middleware, so the response it writes is what the cache sees, stores or
// not, and returns; the middleware then returns nil. The handler writes
// through an *echo.Response of its own (c.Response() during the call), so
// echo.UnwrapResponse and the error handler's committed check see its
// response. With Options.IgnoreQuery the handler sees the request without
// the ignored parameters, in c.Request() and in c.QueryParam /
// c.QueryParams alike, also when an earlier middleware read them.
// Background revalidations (stale-while-revalidate) run the route's
// handler chain on a fresh *echo.Context with the same route, path and
// parameters but without values other middleware set with c.Set. It
// returns an error if cfg.Cache is nil.
func (cfg HTTPCacheConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Cache == nil {
		return nil, errors.New("HTTPCache: nil *httpcache.Cache")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultHTTPCacheConfig.Skipper
	}
	hc := cfg.Cache
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := requestOf(c)
			if cfg.Skipper(c) {
				return next(c)
			}
			hc.Serve(c.Response(), r, &cacheRun{c: c, next: next})
			return nil
		}
	}, nil
}

// cacheRun runs next on c itself (the foreground handler), writing to the
// cache's writer through a temporary *echo.Response so Echo's error
// handler writes there too. The cache may hand next a request whose query
// lost Options.IgnoreQuery parameters: Echo's parsed query values (cached
// in c by any earlier c.QueryParams) are replaced by the request's for the
// call, so the handler never sees parameters that are not in the key.
type cacheRun struct {
	c    *echo.Context
	next echo.HandlerFunc
}

func (run *cacheRun) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := run.c
	orig, origReq := c.Response(), c.Request()
	if r.URL.RawQuery != origReq.URL.RawQuery {
		q := c.QueryParams() // Echo's cached values, parsed from origReq if not yet
		saved := make(url.Values, len(q))
		for k, v := range q {
			saved[k] = v
			delete(q, k)
		}
		for k, v := range r.URL.Query() {
			q[k] = v
		}
		defer func() {
			clear(q)
			for k, v := range saved {
				q[k] = v
			}
		}()
	}
	c.SetResponse(echo.NewResponse(w, c.Logger()))
	c.SetRequest(r)
	defer func() {
		c.SetResponse(orig)
		c.SetRequest(origReq)
	}()
	if err := run.next(c); err != nil {
		handleError(c, err)
	}
}

// Detach is called by the cache during the request, only when a background
// revalidation starts (see httpcache.Cache.Serve): it copies the route
// into a handler on a fresh context, since c is recycled once the request
// ends.
func (run *cacheRun) Detach() http.Handler {
	c, next := run.c, run.next
	e, path, route := c.Echo(), c.Path(), c.RouteInfo()
	values := append(echo.PathValues{}, c.PathValues()...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ec := echo.NewContext(r, w, e)
		pv := append(echo.PathValues{}, values...)
		ec.InitializeRoute(&route, &pv)
		ec.SetPath(path)
		if err := next(ec); err != nil {
			handleError(ec, err)
		}
	})
}
