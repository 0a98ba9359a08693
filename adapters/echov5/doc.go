// Package echov5adapter adapts rediskit's features to Echo v5
// (github.com/labstack/echo/v5) middleware, following Echo v5's own
// conventions: an XxxConfig struct with a middleware.Skipper, a
// DefaultXxxConfig, a ToMiddleware method returning an error for a bad
// configuration (XxxWithConfig panics with it), and Xxx() as the short
// form. The package is named echov5adapter so it never shadows labstack's
// echo; adapters/echo is the same adapter for Echo v4.
//
// Echo v5's HTTPError carries a string message, which Echo's default
// error handler renders as {"message":"..."}. So the rate limiter's
// default answers (429, 403, 503) write their JSON body themselves, byte
// for byte as the net/http adapter does, and then return an
// *echo.HTTPError (wrapping the cause) for logging middleware: Echo's
// error handler skips a response that is already committed. HTTPCache and
// ViewCount hand a handler's error to Echo's HTTPErrorHandler inside the
// middleware (the feature must see the response it writes) and return nil.
//
// Every middleware first copies the route's parameters into the request's
// path values and c.Path() into r.Pattern (when empty), before any
// Skipper, so ratelimit.KeyByRoute(nil), viewcount.ItemPathValue("id")
// and r.PathValue work as under net/http. The HTTP logic lives in the
// feature packages (ratelimit, httpcache, viewcount); this package only
// wires it in.
package echov5adapter
