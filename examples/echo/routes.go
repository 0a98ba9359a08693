package main

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/rediskit/rediskit/adapters/echov5"
	"github.com/rediskit/rediskit/examples/internal/shop"
)

// newEcho routes the example's endpoints on Echo v5, each behind the rediskit
// middleware it demonstrates; same routes and answers as examples/service.
func newEcho(svc *shop.Service) (http.Handler, error) {
	tracker, err := svc.ViewTracker()
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HTTPErrorHandler = jsonErrors(e)

	cached := echov5adapter.HTTPCache(svc.Cache)
	limitCfg := echov5adapter.DefaultRateLimiterConfig
	limitCfg.GuardOptions = svc.LimitOptions()
	limited := echov5adapter.RateLimiterWithConfig(limitCfg)
	counted := echov5adapter.ViewCount(tracker) // the item is the :slug parameter
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

func (h *handlers) health(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) product(c *echo.Context) error {
	if err := shop.CheckID("product id", c.Param("id")); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	p, err := h.svc.Products.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, shop.ErrNoProduct) {
		return echo.NewHTTPError(http.StatusNotFound, "no product with id "+strconv.Quote(c.Param("id")))
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusInternalServerError, "could not load the product").Wrap(err)
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=30")
	return c.JSON(http.StatusOK, p)
}

func (h *handlers) updateProduct(c *echo.Context) error {
	if err := shop.CheckID("product id", c.Param("id")); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, shop.MaxBodyBytes)
	p, err := h.svc.UpdateProduct(c.Request().Context(), c.Param("id"), body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
	case errors.Is(err, shop.ErrBadRequest):
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case err != nil:
		return echo.NewHTTPError(http.StatusInternalServerError, "could not update the product").Wrap(err)
	}
	return c.JSON(http.StatusOK, p)
}

func (h *handlers) origin(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]int64{"product_loads": h.svc.Catalog.Loads()})
}

func (h *handlers) limited(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"message": "within the limit"})
}

func (h *handlers) article(c *echo.Context) error {
	if err := shop.CheckID("article slug", c.Param("slug")); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	a, ok := shop.ArticleBySlug(c.Param("slug"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no article "+strconv.Quote(c.Param("slug")))
	}
	return c.JSON(http.StatusOK, a)
}

func (h *handlers) articleViews(c *echo.Context) error {
	slug := c.Param("slug")
	if err := shop.CheckID("article slug", slug); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if _, ok := shop.ArticleBySlug(slug); !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no article "+strconv.Quote(slug))
	}
	v, err := h.svc.ArticleViews(c.Request().Context(), slug)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "view counts are unavailable").Wrap(err)
	}
	return c.JSON(http.StatusOK, v)
}

func (h *handlers) topArticles(c *echo.Context) error {
	n, err := shop.ParseTopN(c.QueryParam("n"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	top, err := h.svc.TopArticles(c.Request().Context(), n)
	if err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "view counts are unavailable").Wrap(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"top": top})
}

// jsonErrors answers errors as {"error": message}, like examples/service,
// logging internal causes without showing them to the client. Echo's own
// errors (echo.ErrNotFound for an unknown route, echo.ErrMethodNotAllowed)
// carry only a status code: their message is the status text.
func jsonErrors(e *echo.Echo) echo.HTTPErrorHandler {
	return func(c *echo.Context, err error) {
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
			return // the middleware answered already (the rate limiter's 429)
		}
		code, msg := http.StatusInternalServerError, ""
		var he *echo.HTTPError
		var sc echo.HTTPStatusCoder
		switch {
		case errors.As(err, &he):
			code, msg = he.Code, he.Message
			if cause := he.Unwrap(); cause != nil && code >= http.StatusInternalServerError {
				e.Logger.Error(msg, "err", cause)
			}
		case errors.As(err, &sc) && sc.StatusCode() != 0:
			code = sc.StatusCode()
		default:
			e.Logger.Error("handler", "err", err) // a 500 whose cause is logged, not shown
		}
		if msg == "" {
			msg = http.StatusText(code)
		}
		_ = c.JSON(code, map[string]string{"error": msg})
	}
}
