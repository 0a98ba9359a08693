package echov5adapter

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rediskit/rediskit/viewcount"
)

// ViewCountConfig configures the view-counting middleware.
type ViewCountConfig struct {
	// Skipper skips the middleware for a request. Default: never skip.
	Skipper middleware.Skipper
	// Tracker decides what counts and records it. Required. Route
	// parameters reach its ItemFunc as path values, so
	// viewcount.ItemPathValue("id") names the item of route "/posts/:id".
	Tracker *viewcount.Tracker
}

// DefaultViewCountConfig is the default configuration, without a Tracker.
var DefaultViewCountConfig = ViewCountConfig{Skipper: middleware.DefaultSkipper}

// ViewCount returns the middleware with the default configuration and t.
// It panics if t is nil.
func ViewCount(t *viewcount.Tracker) echo.MiddlewareFunc {
	cfg := DefaultViewCountConfig
	cfg.Tracker = t
	return ViewCountWithConfig(cfg)
}

// ViewCountWithConfig returns the view-counting middleware (see
// ToMiddleware). It panics if cfg.Tracker is nil.
func ViewCountWithConfig(cfg ViewCountConfig) echo.MiddlewareFunc {
	return mustMiddleware(cfg.ToMiddleware())
}

// ToMiddleware returns middleware that counts successful GETs
// (viewcount.Tracker.Serve): the item and visitor are decided before the
// handler (a visitor cookie can be set), and the view is recorded after it
// only when the status is 2xx. The route's parameters are copied into the
// request's path values and its path into r.Pattern when empty, so
// ItemPathValue works as under net/http. A handler's error is handed to
// Echo's HTTPErrorHandler inside the middleware, so the status it writes
// is the one that decides; the middleware then returns nil. The handler
// writes through an *echo.Response of its own (c.Response() during the
// call). Counting errors go to the Counter's OnError, never to the client.
// It returns an error if cfg.Tracker is nil.
func (cfg ViewCountConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Tracker == nil {
		return nil, errors.New("ViewCount: nil *viewcount.Tracker")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultViewCountConfig.Skipper
	}
	t := cfg.Tracker
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			r := requestOf(c)
			if cfg.Skipper(c) {
				return next(c)
			}
			orig := c.Response()
			t.Serve(orig, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetResponse(echo.NewResponse(w, c.Logger()))
				c.SetRequest(r)
				defer c.SetResponse(orig)
				if err := next(c); err != nil {
					handleError(c, err)
				}
			}))
			return nil
		}
	}, nil
}
