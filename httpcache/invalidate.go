package httpcache

import (
	"net/http"
	"net/url"
)

// serveUnsafe runs next for an unsafe method and, once the handler chose a
// non-error status (2xx or 3xx), invalidates the request URI and the
// same-origin Location and Content-Location before the client sees the
// response (RFC 9111 §4.4).
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	iw := &invalidator{w: w, c: c, r: r}
	next.ServeHTTP(iw, r)
	if !iw.wrote {
		iw.WriteHeader(http.StatusOK)
	}
}

type invalidator struct {
	w     http.ResponseWriter
	c     *Cache
	r     *http.Request
	wrote bool
}

func (iw *invalidator) Header() http.Header { return iw.w.Header() }

func (iw *invalidator) WriteHeader(status int) {
	if !iw.wrote && status >= 200 {
		iw.wrote = true
		if iw.c.surrogateOn() {
			delete(iw.w.Header(), surrogateControl)
		}
		if status < 400 {
			iw.c.invalidate(iw.r, iw.w.Header())
		}
	}
	iw.w.WriteHeader(status)
}

func (iw *invalidator) Write(p []byte) (int, error) {
	if !iw.wrote {
		iw.WriteHeader(http.StatusOK)
	}
	return iw.w.Write(p)
}

func (iw *invalidator) Flush() {
	if !iw.wrote {
		iw.WriteHeader(http.StatusOK)
	}
	if f, ok := iw.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (iw *invalidator) Unwrap() http.ResponseWriter { return iw.w }

// invalidate removes the entries for r's URI and for the same-origin URIs
// in h's Location and Content-Location. Errors go to OnError.
func (c *Cache) invalidate(r *http.Request, h http.Header) {
	scheme := requestScheme(r)
	host, ok := c.keyHost(r.Host, scheme)
	if !ok {
		return
	}
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	slots := []string{c.slotID(c.urlKey(c.keyScheme(scheme), host, r.URL))}
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := base.ResolveReference(ref)
		if u.Scheme != scheme || normalizeHost(u.Host, scheme) != normalizeHost(r.Host, scheme) {
			continue // another origin: never invalidated (§4.4)
		}
		slots = append(slots, c.slotID(c.urlKey(c.keyScheme(scheme), host, u)))
	}
	n, err := c.remove(r.Context(), slots...)
	if err != nil {
		c.requestError(r, err)
	}
	c.stats.invalidated.Add(uint64(max(n, 0)))
}
