package nethttp

import (
	"net/http"

	"github.com/rediskit/rediskit/viewcount"
)

// ViewCountOptions configures ViewCountWithOptions.
type ViewCountOptions struct {
	// Tracker decides which requests count, as which item and visitor, and
	// records them. Required.
	Tracker *viewcount.Tracker
	// Skipper, when it returns true, serves a request without counting it.
	Skipper func(*http.Request) bool
}

// ViewCount counts the successful GETs of the handlers it wraps with t.
func ViewCount(t *viewcount.Tracker) func(http.Handler) http.Handler {
	return ViewCountWithOptions(ViewCountOptions{Tracker: t})
}

// ViewCountWithOptions returns the view-counting middleware
// (viewcount.Tracker.Serve): the item and visitor are decided before the
// handler runs (a visitor cookie can be set), and the view is recorded
// after it, only for a GET answered 2xx. Counting errors go to the
// Counter's OnError and never fail the request. Wrap the handler
// registered for a route, not the ServeMux, when the Tracker's item is a
// path wildcard (viewcount.ItemPathValue). It panics if opts.Tracker is nil.
func ViewCountWithOptions(opts ViewCountOptions) func(http.Handler) http.Handler {
	t := opts.Tracker
	if t == nil {
		panic("nethttp: ViewCountWithOptions: nil Tracker")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opts.Skipper != nil && opts.Skipper(r) {
				next.ServeHTTP(w, r)
				return
			}
			t.Serve(w, r, next)
		})
	}
}
