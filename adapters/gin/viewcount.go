package ginadapter

import (
	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/viewcount"
)

// ViewCountConfig configures ViewCountWithConfig.
type ViewCountConfig struct {
	// Tracker decides which requests count, as which item and visitor, and
	// records them. Required. Route parameters reach its ItemFunc as path
	// values, so viewcount.ItemPathValue("id") names the item of route
	// "/posts/:id".
	Tracker *viewcount.Tracker
	// Skipper, when it returns true, serves a request without counting it.
	// Default: never skip.
	Skipper func(*gin.Context) bool
}

// ViewCount counts the successful GETs of the handlers after it with t.
// It panics if t is nil.
func ViewCount(t *viewcount.Tracker) gin.HandlerFunc {
	return ViewCountWithConfig(ViewCountConfig{Tracker: t})
}

// ViewCountWithConfig returns the view-counting middleware
// (viewcount.Tracker.Serve): the item and visitor are decided before the
// rest of the chain runs (a visitor cookie can be set), and the view is
// recorded after it, only for a GET answered 2xx. The status is the one the
// handlers sent however they sent it (c.String, c.Status alone,
// c.AbortWithStatus): inside the chain c.Writer writes through the
// Tracker's writer, and the status Gin holds is written when the chain
// returns. Counting errors go to the Counter's OnError and never fail the
// request. It panics if cfg.Tracker is nil.
func ViewCountWithConfig(cfg ViewCountConfig) gin.HandlerFunc {
	t := cfg.Tracker
	if t == nil {
		panic("ginadapter: ViewCountWithConfig: nil Tracker")
	}
	skip := cfg.Skipper
	return func(c *gin.Context) {
		r := requestOf(c)
		if skip != nil && skip(c) {
			c.Next()
			return
		}
		serve(c, r, t.Serve)
	}
}
