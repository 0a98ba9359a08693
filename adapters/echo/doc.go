// Package echoadapter adapts rediskit's features to Echo v4 middleware,
// following Echo's own conventions: an XxxConfig struct with a Skipper, a
// DefaultXxxConfig, Xxx() and XxxWithConfig(cfg). The rate limiter returns
// its errors as *echo.HTTPError with Internal set, so Echo's central error
// handler writes them; HTTPCache hands a handler's error to c.Error itself
// (the cache must see the response written) and returns nil. The package
// is named echoadapter so it never shadows labstack's echo.
// The HTTP logic lives in the feature packages (ratelimit, httpcache,
// viewcount); this package only wires it in.
package echoadapter
