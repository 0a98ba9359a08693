package httpcache

import "net/http"

// OriginUnreachable tells the cache serving the request that the response
// the handler is about to write to w stands for an origin it could not
// reach (the connection was refused, reset or closed before a response, a
// timeout: what httputil.ReverseProxy hands its ErrorHandler), not for a
// response of the origin. Call it before WriteHeader. It reports whether w
// belongs to a request the cache is fetching for (w or a writer it
// unwraps to, through Unwrap() http.ResponseWriter); otherwise it does
// nothing.
//
// A cache that cannot reach the origin is "disconnected" (RFC 9111
// §4.2.4) and may serve a stale response: when the request was to
// revalidate a stored response that is still kept (Storage.StaleRetention
// or its stale windows) and neither the response (must-revalidate,
// proxy-revalidate, s-maxage, no-cache) nor the request (no-cache, max-age,
// min-fresh) forbids it, the client gets the stored response, with
// Cache-Status detail=origin-unreachable and Result.Reason
// "origin-unreachable", instead of the handler's error response. Without a
// usable stored response the handler's error response goes to the client
// as usual. An error response the handler writes without calling
// OriginUnreachable is the origin's answer: it is replaced by a stale
// response only within stale-if-error.
func OriginUnreachable(w http.ResponseWriter) bool {
	for w != nil {
		if cp, ok := w.(*capture); ok {
			cp.unreachable = true
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}

// reasonUnreachable is the Result.Reason and Cache-Status detail of a stale
// response served because the origin was unreachable.
const reasonUnreachable = "origin-unreachable"

// staleIfUnreachable reports whether stale may answer the request when the
// origin could not be reached (RFC 9111 §4.2.4).
func (t *txn) staleIfUnreachable(stale *entry) bool {
	rd := t.rd
	return stale.flags&(flagMustRevalidate|flagNoCache) == 0 && !rd.noCache && !rd.hasMaxAge && !rd.hasMinFresh
}
