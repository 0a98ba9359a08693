package adaptertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// stackCase runs all three features on one route, as an application does:
// every request is limited and counted, hits are served from the cache, and
// the handler's context carries the one request budget they share.
func stackCase() tableCase {
	return tableCase{"stack/rate limit, view count and cache on one route", func(t *testing.T, a Adapter) (http.Handler, []Step) {
		rdb := rlServer(t)
		views, _ := newCounter(t)
		tr, err := viewcount.NewTracker(views, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("slug")})
		if err != nil {
			t.Fatal(err)
		}
		var calls, budgeted atomic.Int64
		article := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if budget.From(r.Context()) != nil {
				budgeted.Add(1)
			}
			w.Header().Set("Cache-Control", "max-age=60")
			_, _ = io.WriteString(w, "article "+r.PathValue("slug"))
		})
		routes := []Route{{Method: "GET", Path: "/articles/{slug}", Handler: article}}
		h := a.Router(routes,
			a.RateLimit(ratelimit.GuardOptions{Limiter: fixedWindow(t, rdb, "rl", "", 2, nil)}, nil),
			a.ViewCount(tr, nil),
			a.HTTPCache(newCache(t), nil))
		visit := func(remote string, status int, rl, cs string, total int64) Step {
			return Step{Method: "GET", Target: "/articles/hello", Remote: remote, Header: []string{"User-Agent: " + browserUA},
				Status: status, Headers: map[string]string{"RateLimit": rl, "Cache-Status": cs},
				Check: func(t *testing.T, w *httptest.ResponseRecorder) {
					counts(views, "hello", [3]int64{total, total, 0})(t, w)
					if calls.Load() != 1 || budgeted.Load() != 1 {
						t.Errorf("handler: got %d calls (%d with a request budget), want 1 with it", calls.Load(), budgeted.Load())
					}
				}}
		}
		return h, []Step{
			visit("203.0.113.1:1", 200, `"default";r=1;t=3540`, missStored, 1),
			visit("203.0.113.2:1", 200, `"default";r=1;t=3540`, hit60, 2),
			visit("203.0.113.1:1", 200, `"default";r=0;t=3540`, hit60, 2), // a reload: counts once
			visit("203.0.113.1:1", 429, `"default";r=0;t=3540`, "", 2),
		}
	}}
}
