package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/examples/internal/shop"
)

// newGin routes the example's endpoints on Gin, each behind the rediskit
// middleware it demonstrates; same routes and answers as examples/service
// and examples/echo. Answers are written as examples/service writes them
// (Content-Type application/json, encoding/json with a trailing newline),
// not with Gin's c.JSON, so the bodies match byte for byte; unknown routes
// and methods answer {"error":"Not Found"} and {"error":"Method Not
// Allowed"} (with Allow), as examples/echo does.
func newGin(svc *shop.Service) (http.Handler, error) {
	tracker, err := svc.ViewTracker()
	if err != nil {
		return nil, err
	}
	e := gin.New()
	e.RedirectTrailingSlash = false // "/healthz/" is not found, as on the other services
	e.HandleMethodNotAllowed = true
	e.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, http.StatusText(http.StatusNotFound)) })
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
	})

	cached := ginadapter.HTTPCache(svc.Cache)
	limited := ginadapter.RateLimitWithConfig(ginadapter.RateLimitConfig{GuardOptions: svc.LimitOptions()})
	counted := ginadapter.ViewCount(tracker) // the item is the :slug parameter
	h := &handlers{svc: svc}

	e.GET("/healthz", h.health)
	e.GET("/products/:id", cached, h.product)
	e.PUT("/products/:id", cached, h.updateProduct)
	e.GET("/stats/origin", h.origin)
	e.GET("/api/limited", limited, h.limited)
	e.GET("/articles/top", h.topArticles)
	e.GET("/articles/:slug", counted, h.article)
	e.GET("/articles/:slug/views", h.articleViews)
	return e, nil
}

type handlers struct{ svc *shop.Service }

func (h *handlers) health(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) product(c *gin.Context) {
	if err := shop.CheckID("product id", c.Param("id")); err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	p, err := h.svc.Products.Get(c.Request.Context(), c.Param("id"))
	if errors.Is(err, shop.ErrNoProduct) {
		writeError(c, http.StatusNotFound, "no product with id "+strconv.Quote(c.Param("id")))
		return
	}
	if err != nil {
		h.svc.Log.Error("load product", "err", err)
		writeError(c, http.StatusInternalServerError, "could not load the product")
		return
	}
	c.Header("Cache-Control", "public, max-age=30")
	writeJSON(c, http.StatusOK, p)
}

func (h *handlers) updateProduct(c *gin.Context) {
	if err := shop.CheckID("product id", c.Param("id")); err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, shop.MaxBodyBytes)
	p, err := h.svc.UpdateProduct(c.Request.Context(), c.Param("id"), body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(c, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
	case errors.Is(err, shop.ErrBadRequest):
		writeError(c, http.StatusBadRequest, err.Error())
	case err != nil:
		h.svc.Log.Error("update product", "err", err)
		writeError(c, http.StatusInternalServerError, "could not update the product")
	default:
		writeJSON(c, http.StatusOK, p)
	}
}

func (h *handlers) origin(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]int64{"product_loads": h.svc.Catalog.Loads()})
}

func (h *handlers) limited(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"message": "within the limit"})
}

func (h *handlers) article(c *gin.Context) {
	if err := shop.CheckID("article slug", c.Param("slug")); err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	a, ok := shop.ArticleBySlug(c.Param("slug"))
	if !ok {
		writeError(c, http.StatusNotFound, "no article "+strconv.Quote(c.Param("slug")))
		return
	}
	writeJSON(c, http.StatusOK, a)
}

func (h *handlers) articleViews(c *gin.Context) {
	slug := c.Param("slug")
	if err := shop.CheckID("article slug", slug); err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	if _, ok := shop.ArticleBySlug(slug); !ok {
		writeError(c, http.StatusNotFound, "no article "+strconv.Quote(slug))
		return
	}
	v, err := h.svc.ArticleViews(c.Request.Context(), slug)
	if err != nil {
		h.svc.Log.Error("article views", "err", err)
		writeError(c, http.StatusServiceUnavailable, "view counts are unavailable")
		return
	}
	writeJSON(c, http.StatusOK, v)
}

func (h *handlers) topArticles(c *gin.Context) {
	n, err := shop.ParseTopN(c.Query("n"))
	if err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	top, err := h.svc.TopArticles(c.Request.Context(), n)
	if err != nil {
		h.svc.Log.Error("top articles", "err", err)
		writeError(c, http.StatusServiceUnavailable, "view counts are unavailable")
		return
	}
	writeJSON(c, http.StatusOK, map[string]any{"top": top})
}

// writeJSON answers as examples/service's writeJSON does (Gin's c.JSON
// would add "; charset=utf-8" and drop the trailing newline).
func writeJSON(c *gin.Context, status int, v any) {
	c.Header("Content-Type", "application/json")
	c.Status(status)
	_ = json.NewEncoder(c.Writer).Encode(v)
}

// writeError answers {"error": msg}, like examples/service.
func writeError(c *gin.Context, status int, msg string) {
	writeJSON(c, status, map[string]string{"error": msg})
}
