package echoadapter

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/rediskit/rediskit/viewcount"
)

// ViewCountConfig configures the view-counting middleware.
type ViewCountConfig struct {
	// Skipper skips the middleware for a request (an echo middleware.Skipper
	// fits). Default: never skip.
	Skipper func(c echo.Context) bool
	// Tracker decides what counts and records it. Required.
	Tracker *viewcount.Tracker
	// Item, if set, names the item from the Echo context (for example
	// c.Param("id")) instead of the Tracker's ItemFunc.
	Item func(c echo.Context) (string, error)
}

// DefaultViewCountConfig is the default configuration, without a Tracker.
var DefaultViewCountConfig = ViewCountConfig{Skipper: func(echo.Context) bool { return false }}

// ViewCount returns the middleware with the default configuration and t.
func ViewCount(t *viewcount.Tracker) echo.MiddlewareFunc {
	cfg := DefaultViewCountConfig
	cfg.Tracker = t
	return ViewCountWithConfig(cfg)
}

// ViewCountWithConfig returns middleware that counts successful GETs: the
// item and visitor are decided before the handler (a visitor cookie can be
// set), and the view is recorded after it only when the handler returned no
// error and the status is 2xx. Counting errors go to the Tracker's OnError,
// never to the client. It panics if cfg.Tracker is nil.
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
			if cfg.Skipper(c) {
				return next(c)
			}
			w, r := c.Response(), c.Request()
			var v viewcount.View
			if cfg.Item != nil {
				if item, err := cfg.Item(c); err != nil {
					t.ReportError(r, fmt.Errorf("viewcount: item: %w", err))
				} else {
					v = t.BeginItem(w, r, item)
				}
			} else {
				v = t.Begin(w, r)
			}
			if err := next(c); err != nil {
				return err // Echo's error handler writes a non-2xx status
			}
			if v != (viewcount.View{}) {
				status := w.Status
				if status == 0 {
					status = http.StatusOK
				}
				t.Finish(r, v, status)
			}
			return nil
		}
	}
}
