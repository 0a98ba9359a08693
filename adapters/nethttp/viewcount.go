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

// ViewCountWithOptions returns the view-counting middleware: the item and
// visitor are decided before the handler runs (a visitor cookie can be set),
// and the view is recorded after it, only for a GET answered 2xx. Counting
// errors go to the Tracker's OnError and never fail the request. It panics
// if opts.Tracker is nil.
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
			v := t.Begin(w, r)
			if v == (viewcount.View{}) {
				next.ServeHTTP(w, r)
				return
			}
			sw := &viewStatusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK // nothing written: net/http answers 200
			}
			t.Finish(r, v, sw.status)
		})
	}
}

// viewStatusWriter remembers the status the handler sent.
type viewStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *viewStatusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *viewStatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through to the underlying writer when it can flush.
func (w *viewStatusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *viewStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
