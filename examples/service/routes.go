package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/examples/internal/shop"
)

// newHandler routes the example's endpoints, each behind the rediskit
// middleware it demonstrates.
func newHandler(svc *shop.Service) (http.Handler, error) {
	tracker, err := svc.ViewTracker()
	if err != nil {
		return nil, err
	}
	cached := nethttp.HTTPCache(svc.Cache)
	limited := nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{GuardOptions: svc.LimitOptions()})
	counted := nethttp.ViewCount(tracker)
	h := &handlers{svc: svc}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.health)
	mux.Handle("GET /products/{id}", cached(http.HandlerFunc(h.product)))
	mux.Handle("PUT /products/{id}", cached(http.HandlerFunc(h.updateProduct)))
	mux.HandleFunc("GET /stats/origin", h.origin)
	mux.Handle("GET /api/limited", limited(http.HandlerFunc(h.limited)))
	mux.HandleFunc("GET /articles/top", h.topArticles)
	mux.Handle("GET /articles/{slug}", counted(http.HandlerFunc(h.article)))
	mux.HandleFunc("GET /articles/{slug}/views", h.articleViews)
	return jsonMuxErrors(mux), nil
}

// jsonMuxErrors answers the mux's own errors (unknown route 404, 405 with
// its Allow header) as {"error": status text}, like every other error
// answer, instead of ServeMux's text/plain.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &muxErrorWriter{ResponseWriter: w}
		}
		mux.ServeHTTP(w, r)
	})
}

// muxErrorWriter replaces the text/plain body of an error answer by the
// JSON error; redirects and other answers pass through.
type muxErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *muxErrorWriter) WriteHeader(code int) {
	if code < http.StatusBadRequest {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, code, http.StatusText(code))
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the text/plain body, already replaced
	}
	return w.ResponseWriter.Write(b)
}

type handlers struct{ svc *shop.Service }

func (h *handlers) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) product(w http.ResponseWriter, r *http.Request) {
	if err := shop.CheckID("product id", r.PathValue("id")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := h.svc.Products.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, shop.ErrNoProduct) {
		writeError(w, http.StatusNotFound, "no product with id "+strconv.Quote(r.PathValue("id")))
		return
	}
	if err != nil {
		h.svc.Log.Error("load product", "err", err)
		writeError(w, http.StatusInternalServerError, "could not load the product")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=30")
	writeJSON(w, http.StatusOK, p)
}

func (h *handlers) updateProduct(w http.ResponseWriter, r *http.Request) {
	if err := shop.CheckID("product id", r.PathValue("id")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	body := http.MaxBytesReader(w, r.Body, shop.MaxBodyBytes)
	p, err := h.svc.UpdateProduct(r.Context(), r.PathValue("id"), body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
	case errors.Is(err, shop.ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		h.svc.Log.Error("update product", "err", err)
		writeError(w, http.StatusInternalServerError, "could not update the product")
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

func (h *handlers) origin(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int64{"product_loads": h.svc.Catalog.Loads()})
}

func (h *handlers) limited(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"message": "within the limit"})
}

func (h *handlers) article(w http.ResponseWriter, r *http.Request) {
	if err := shop.CheckID("article slug", r.PathValue("slug")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a, ok := shop.ArticleBySlug(r.PathValue("slug"))
	if !ok {
		writeError(w, http.StatusNotFound, "no article "+strconv.Quote(r.PathValue("slug")))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h *handlers) articleViews(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if err := shop.CheckID("article slug", slug); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, ok := shop.ArticleBySlug(slug); !ok {
		writeError(w, http.StatusNotFound, "no article "+strconv.Quote(slug))
		return
	}
	v, err := h.svc.ArticleViews(r.Context(), slug)
	if err != nil {
		h.svc.Log.Error("article views", "err", err)
		writeError(w, http.StatusServiceUnavailable, "view counts are unavailable")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handlers) topArticles(w http.ResponseWriter, r *http.Request) {
	n, err := shop.ParseTopN(r.URL.Query().Get("n"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	top, err := h.svc.TopArticles(r.Context(), n)
	if err != nil {
		h.svc.Log.Error("top articles", "err", err)
		writeError(w, http.StatusServiceUnavailable, "view counts are unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"top": top})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
