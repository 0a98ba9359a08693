package httpcache_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/redistest"
)

func unreachableCases() []rfcCase {
	down := resp{status: 502, unreachable: true, body: "bad gateway"}
	// refused is a case storing a response with cc, then finding the
	// origin unreachable 20 s later: the client gets the 502.
	refused := func(name, cc string, req ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: " + cc, date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, req: req, origin: down, called: true, status: 502, body: str("bad gateway")},
		}}
	}
	return []rfcCase{
		{name: "unreachable origin: stale served", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: down, called: true, body: str("v1"), hdr: []string{"Age: 20"},
				cs: "fwd=stale; fwd-status=502; ttl=-10; detail=origin-unreachable"},
			{origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "unreachable origin with stale-if-error: reported as stale-if-error", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10, stale-if-error=60", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: down, called: true, body: str("v1"), cs: "detail=stale-if-error"},
		}},
		{name: "unreachable origin, nothing stored: the handler's error", steps: []step{
			{origin: down, called: true, status: 502, body: str("bad gateway"), cs: "fwd=miss; fwd-status=502"},
		}},
		{name: "an origin's 502 is not unreachable", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: resp{status: 502, body: "bad gateway"}, called: true, status: 502},
		}},
		refused("unreachable origin: must-revalidate forbids stale", "max-age=10, must-revalidate"),
		refused("unreachable origin: proxy-revalidate forbids stale", "max-age=10, proxy-revalidate"),
		refused("unreachable origin: s-maxage forbids stale", "s-maxage=10"),
		refused("unreachable origin: no-cache forbids stale", "max-age=10, no-cache"),
		refused("unreachable origin: request no-cache forbids stale", "max-age=10", "Cache-Control: no-cache"),
		refused("unreachable origin: request max-age forbids stale", "max-age=10", "Cache-Control: max-age=5"),
		refused("unreachable origin: request min-fresh forbids stale", "max-age=10", "Cache-Control: min-fresh=1"),
	}
}

// wrapped is a middleware's ResponseWriter that unwraps to the one it got.
type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestOriginUnreachableOutsideTheCache(t *testing.T) {
	t.Parallel()
	for _, w := range []http.ResponseWriter{nil, httptest.NewRecorder(), wrapped{httptest.NewRecorder()}, wrapped{}} {
		if httpcache.OriginUnreachable(w) {
			t.Errorf("OriginUnreachable(%T): got true outside a cache, want false", w)
		}
	}
}

func TestOriginUnreachableThroughWrappers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache(t, redistest.Standalone(t), redistest.Prefix(t), httpcache.Options{}, clk)
	var found bool
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		found = httpcache.OriginUnreachable(wrapped{wrapped{w}})
		w.WriteHeader(http.StatusBadGateway)
	}))
	if do(h, "GET", "http://example.com/u"); !found {
		t.Errorf("OriginUnreachable through two wrappers: got false, want true")
	}
}
