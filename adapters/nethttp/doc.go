// Package nethttp adapts rediskit's features to net/http: each constructor
// returns a func(http.Handler) http.Handler middleware that works with any
// router (http.ServeMux, chi, gorilla/mux). The HTTP logic itself lives in
// the feature packages (ratelimit, httpcache, viewcount); this package only
// wires it into the handler chain. Middleware never panics on a request;
// invalid configuration panics at construction with the "nethttp:" prefix.
package nethttp
