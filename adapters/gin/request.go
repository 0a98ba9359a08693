package ginadapter

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// requestOf returns c's request with Gin's route parameters as path values
// and c.FullPath() as its Pattern (when empty), as net/http's ServeMux sets
// them. Every middleware of this package calls it first, so Skippers, key,
// item and visitor funcs and handlers see r.PathValue and r.Pattern as they
// would under net/http.
func requestOf(c *gin.Context) *http.Request {
	r := c.Request
	for _, p := range c.Params {
		r.SetPathValue(p.Key, p.Value)
	}
	if r.Pattern == "" {
		r.Pattern = c.FullPath()
	}
	return r
}

// chain is the next handler a feature's Serve gets: the rest of Gin's
// handler chain on c. It records whether the feature called it.
type chain struct {
	c      *gin.Context
	called bool
}

// serve calls a feature's Serve with c.Writer, r and the rest of Gin's
// chain as next, and aborts the chain when Serve answered without calling
// next (a denial, an error answer, a cache hit), so later handlers do not
// run.
func serve(c *gin.Context, r *http.Request, feature func(http.ResponseWriter, *http.Request, http.Handler)) {
	next := &chain{c: c}
	feature(c.Writer, r, next)
	if !next.called {
		c.Abort()
	}
}

// ServeHTTP runs the rest of Gin's chain with r as c.Request and c.Writer
// writing to w, the writer the feature handed it (one that records or
// captures the response): the status the handlers set is written to w when
// the chain returns, as Gin's engine does at the end of a request. c.Writer
// and c.Request are restored afterwards, also when a handler panics.
func (ch *chain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch.called = true
	c := ch.c
	origW, origR := c.Writer, c.Request
	defer func() { c.Writer, c.Request = origW, origR }()
	gw := newResponseWriter(w)
	c.Writer, c.Request = gw, r
	c.Next()
	gw.WriteHeaderNow()
}

// responseWriter is a gin.ResponseWriter over any http.ResponseWriter,
// with the semantics of Gin's own: the status is held until the first
// write or WriteHeaderNow, and a later WriteHeader is ignored once written.
type responseWriter struct {
	http.ResponseWriter
	status int
	size   int // -1: nothing written yet
}

var _ gin.ResponseWriter = (*responseWriter)(nil)

func newResponseWriter(w http.ResponseWriter) *responseWriter {
	return &responseWriter{ResponseWriter: w, status: http.StatusOK, size: -1}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

func (w *responseWriter) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.ResponseWriter.WriteHeader(w.status)
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

func (w *responseWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	n, err := io.WriteString(w.ResponseWriter, s)
	w.size += n
	return n, err
}

func (w *responseWriter) Status() int   { return w.status }
func (w *responseWriter) Size() int     { return w.size }
func (w *responseWriter) Written() bool { return w.size != -1 }

func (w *responseWriter) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hijacks the underlying connection when the writer allows it
// (a caching writer does not).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.size > 0 {
		return nil, nil, errors.New("ginadapter: response body already written")
	}
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.size < 0 {
		w.size = 0
	}
	return conn, rw, err
}

// CloseNotify returns the underlying writer's channel, or one that never
// fires when it has none. (http.CloseNotifier is deprecated; Gin's
// ResponseWriter still requires it. Use c.Request.Context() instead.)
func (w *responseWriter) CloseNotify() <-chan bool {
	if cn, ok := w.ResponseWriter.(http.CloseNotifier); ok {
		return cn.CloseNotify()
	}
	return nil
}

func (w *responseWriter) Pusher() http.Pusher {
	p, _ := w.ResponseWriter.(http.Pusher)
	return p
}
