package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/examples/internal/shop"
)

// newEcho routes the example's endpoints on Echo, each behind the rediskit
// middleware it demonstrates; same routes and answers as examples/service.
func newEcho(svc *shop.Service) (http.Handler, error) {
	tracker, err := svc.ViewTracker()
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = jsonErrors(e)

	cached := echoadapter.HTTPCache(svc.Cache)
	limitCfg := echoadapter.DefaultRateLimiterConfig
	limitCfg.GuardOptions = svc.LimitOptions()
	limited := echoadapter.RateLimiterWithConfig(limitCfg)
	counted := echoadapter.ViewCount(tracker) // the item is the :slug parameter
	h := &handlers{svc: svc}

	e.GET("/healthz", h.health)
	e.GET("/products/:id", h.product, cached)
	e.PUT("/products/:id", h.updateProduct, cached)
	e.GET("/stats/origin", h.origin)
	e.GET("/api/limited", h.limited, limited)
	e.GET("/articles/top", h.topArticles)
	e.GET("/articles/:slug", h.article, counted)
	e.GET("/articles/:slug/views", h.articleViews)
	return e, nil
}

type handlers struct{ svc *shop.Service }

func (h *handlers) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) product(c echo.Context) error {
	p, err := h.svc.Products.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, shop.ErrNoProduct) {
		return echo.NewHTTPError(http.StatusNotFound, "no product with id "+strconv.Quote(c.Param("id")))
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusInternalServerError, "could not load the product").SetInternal(err)
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=30")
	return c.JSON(http.StatusOK, p)
}

func (h *handlers) updateProduct(c echo.Context) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, shop.MaxBodyBytes)
	p, err := h.svc.UpdateProduct(c.Request().Context(), c.Param("id"), body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
	case errors.Is(err, shop.ErrBadRequest):
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case err != nil:
		return echo.NewHTTPError(http.StatusInternalServerError, "could not update the product").SetInternal(err)
	}
	return c.JSON(http.StatusOK, p)
}

func (h *handlers) origin(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]int64{"product_loads": h.svc.Catalog.Loads()})
}

func (h *handlers) limited(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"message": "within the limit"})
}

func (h *handlers) article(c echo.Context) error {
	a, ok := shop.ArticleBySlug(c.Param("slug"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no article "+strconv.Quote(c.Param("slug")))
	}
	return c.JSON(http.StatusOK, a)
}

func (h *handlers) articleViews(c echo.Context) error {
	slug := c.Param("slug")
	if _, ok := shop.ArticleBySlug(slug); !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no article "+strconv.Quote(slug))
	}
	v, err := h.svc.ArticleViews(c.Request().Context(), slug)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "view counts are unavailable").SetInternal(err)
	}
	return c.JSON(http.StatusOK, v)
}

func (h *handlers) topArticles(c echo.Context) error {
	n, err := shop.ParseTopN(c.QueryParam("n"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	top, err := h.svc.TopArticles(c.Request().Context(), n)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "view counts are unavailable").SetInternal(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"top": top})
}

// jsonErrors answers errors as {"error": message}, like examples/service,
// logging internal causes without showing them to the client.
func jsonErrors(e *echo.Echo) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		he := &echo.HTTPError{Code: http.StatusInternalServerError, Message: http.StatusText(http.StatusInternalServerError)}
		if !errors.As(err, &he) {
			e.Logger.Error(err) // not an HTTPError: a 500 whose cause is logged, not shown
		}
		if he.Internal != nil && he.Code >= http.StatusInternalServerError {
			e.Logger.Error(he.Internal)
		}
		msg, ok := he.Message.(string)
		if !ok {
			// Middleware may answer with a JSON body of its own (the 429).
			_ = c.JSON(he.Code, he.Message)
			return
		}
		_ = c.JSON(he.Code, map[string]string{"error": msg})
	}
}
