package echoadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rediskit/rediskit/viewcount"
)

// ViewCountConfig configures the view-counting middleware.
type ViewCountConfig struct {
	// Skipper skips the middleware for a request (an echo middleware.Skipper
	// fits). Default: never skip.
	Skipper func(c echo.Context) bool
	// Tracker decides what counts and records it. Required. Route
	// parameters reach its ItemFunc as path values, so
	// viewcount.ItemPathValue("id") names the item of route "/posts/:id".
	Tracker *viewcount.Tracker
}

// DefaultViewCountConfig is the default configuration, without a Tracker.
var DefaultViewCountConfig = ViewCountConfig{Skipper: func(echo.Context) bool { return false }}

// ViewCount returns the middleware with the default configuration and t.
func ViewCount(t *viewcount.Tracker) echo.MiddlewareFunc {
	cfg := DefaultViewCountConfig
	cfg.Tracker = t
	return ViewCountWithConfig(cfg)
}

// ViewCountWithConfig returns middleware that counts successful GETs
// (viewcount.Tracker.Serve): the item and visitor are decided before the
// handler (a visitor cookie can be set), and the view is recorded after it
// only when the status is 2xx. The route's parameters are copied into the
// request's path values and its path into r.Pattern when empty, so
// ItemPathValue works as under net/http. A handler's error is handed to
// Echo's error handler (c.Error) inside the middleware, so the status it
// writes is the one that decides; the middleware then returns nil.
// Counting errors go to the Counter's OnError, never to the client. It
// panics if cfg.Tracker is nil.
func ViewCountWithConfig(cfg ViewCountConfig) echo.MiddlewareFunc {
	if cfg.Tracker == nil {
		panic("echoadapter: ViewCountWithConfig: nil Tracker")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultViewCountConfig.Skipper
	}
	t := cfg.Tracker
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r, res := requestOf(c), c.Response()
			if cfg.Skipper(c) {
				return next(c)
			}
			// Serve wraps the writer under res, so what the handler and
			// Echo's error handler write through res is what it sees.
			t.Serve(res.Writer, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				orig := res.Writer
				res.Writer = w
				defer func() { res.Writer = orig }()
				c.SetRequest(r)
				if err := next(c); err != nil {
					c.Error(err)
				}
			}))
			return nil
		}
	}
}
