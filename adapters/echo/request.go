package echoadapter

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// requestOf returns c's request with Echo's route parameters as path
// values and c.Path() as its Pattern (when empty), as net/http's ServeMux
// sets them. Every middleware of this package calls it first, so Skippers,
// key, item and visitor funcs and handlers see r.PathValue and r.Pattern
// as they would under net/http.
func requestOf(c echo.Context) *http.Request {
	r := c.Request()
	for _, name := range c.ParamNames() {
		r.SetPathValue(name, c.Param(name))
	}
	if r.Pattern == "" {
		r.Pattern = c.Path()
	}
	return r
}
