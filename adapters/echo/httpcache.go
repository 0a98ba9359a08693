package echoadapter

import (
	"net/http"
	"net/url"

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
// the middleware then returns nil. With Options.IgnoreQuery the handler sees
// the request without the ignored parameters, in c.Request() and in
// c.QueryParam / c.QueryParams alike, also when an earlier middleware read
// them. Background revalidations
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
			r := requestOf(c)
			if cfg.Skipper(c) {
				return next(c)
			}
			hc.Serve(c.Response(), r, &cacheRun{c: c, next: next})
			return nil
		}
	}
}

// cacheRun runs next on c itself (the foreground handler), writing to the
// cache's writer through a temporary echo.Response so Echo's error handler
// writes there too. The cache may hand next a request whose query lost
// Options.IgnoreQuery parameters: Echo's parsed query values (cached in c
// by any earlier c.QueryParam) are replaced by the request's for the call,
// so the handler never sees parameters that are not in the key.
type cacheRun struct {
	c    echo.Context
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
	c.SetResponse(echo.NewResponse(w, c.Echo()))
	c.SetRequest(r)
	defer func() {
		c.SetResponse(orig)
		c.SetRequest(origReq)
	}()
	if err := run.next(c); err != nil {
		c.Error(err)
	}
}

// Detach is called by the cache during the request, only when a background
// revalidation starts (see httpcache.Cache.Serve): it copies the route into
// a handler on a fresh context, since c is recycled once the request ends.
func (run *cacheRun) Detach() http.Handler {
	c, next := run.c, run.next
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
