package echov5adapter

import (
	"net/http"

	"github.com/labstack/echo/v5"
)

// requestOf returns c's request with Echo's route parameters as path
// values and c.Path() as its Pattern (when empty), as net/http's ServeMux
// sets them. Every middleware of this package calls it first, so Skippers,
// key, item and visitor funcs and handlers see r.PathValue and r.Pattern
// as they would under net/http. (Echo v5's router sets r.Pattern itself,
// but not the path values.)
func requestOf(c *echo.Context) *http.Request {
	r := c.Request()
	for _, p := range c.PathValues() {
		r.SetPathValue(p.Name, p.Value)
	}
	if r.Pattern == "" {
		r.Pattern = c.Path()
	}
	return r
}

// handleError answers err the way Echo answers a handler's error: with
// the Echo instance's HTTPErrorHandler (which writes nothing when the
// response is already committed). A context made without an Echo
// (echo.NewContext(r, w)) cannot render a body: it gets the status only.
func handleError(c *echo.Context, err error) {
	if e := c.Echo(); e != nil && e.HTTPErrorHandler != nil {
		e.HTTPErrorHandler(c, err)
		return
	}
	if res, status := echo.ResolveResponseStatus(c.Response(), err); res == nil || !res.Committed {
		c.Response().WriteHeader(status)
	}
}
