package nethttp_test

import (
	"net/http"
	"testing"

	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/adaptertest"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// netHTTP is this adapter's row of the shared behaviour table.
var netHTTP = adaptertest.Adapter{
	Name: "nethttp",
	Router: func(routes []adaptertest.Route, mw ...adaptertest.Middleware) http.Handler {
		mux := http.NewServeMux()
		for _, rt := range routes {
			var h http.Handler = rt.Handler
			if rt.Fail != 0 {
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rt.Handler.ServeHTTP(w, r)
					http.Error(w, http.StatusText(rt.Fail), rt.Fail)
				})
			}
			for i := len(mw) - 1; i >= 0; i-- {
				h = mw[i].(func(http.Handler) http.Handler)(h)
			}
			pattern := rt.Path
			if rt.Method != "" {
				pattern = rt.Method + " " + rt.Path
			}
			mux.Handle(pattern, h)
		}
		return mux
	},
	RateLimit: func(opts ratelimit.GuardOptions, skip adaptertest.Skip) adaptertest.Middleware {
		return nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{GuardOptions: opts, Skipper: skip})
	},
	HTTPCache: func(c *httpcache.Cache, skip adaptertest.Skip) adaptertest.Middleware {
		return nethttp.HTTPCacheWithOptions(nethttp.HTTPCacheOptions{Cache: c, Skipper: skip})
	},
	ViewCount: func(t *viewcount.Tracker, skip adaptertest.Skip) adaptertest.Middleware {
		return nethttp.ViewCountWithOptions(nethttp.ViewCountOptions{Tracker: t, Skipper: skip})
	},
}

func TestBehaviourTable(t *testing.T) { adaptertest.Run(t, netHTTP) }
