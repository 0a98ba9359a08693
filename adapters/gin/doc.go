// Package ginadapter adapts rediskit's features to Gin middleware: each
// constructor returns a gin.HandlerFunc (RateLimit, HTTPCache, ViewCount,
// and their …WithConfig forms, whose Config has a Skipper). The package is
// named ginadapter so it never shadows gin-gonic's gin.
//
// The HTTP logic lives in the feature packages (ratelimit, httpcache,
// viewcount): each middleware calls the feature's Serve with c.Writer and
// c.Request, and a next that runs the rest of Gin's chain (c.Next). When
// the feature answers without calling next (429, 403, 503, a cache hit),
// the middleware calls c.Abort, so later handlers do not run.
//
// Every middleware first copies the route's parameters (c.Params) into the
// request's path values and the route (c.FullPath(), such as "/posts/:id")
// into r.Pattern when it is empty, before its Skipper runs: so
// r.PathValue("id"), viewcount.ItemPathValue("id") and
// ratelimit.KeyByRoute(nil) work as under net/http. A catch-all parameter
// keeps the leading slash Gin gives it (c.Param("rest") of "/*rest").
//
// Middleware never panics on a request; invalid configuration panics at
// construction with the "ginadapter:" prefix.
package ginadapter
