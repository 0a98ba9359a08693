package ginadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/adaptertest"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// ginPath turns a ServeMux path into Gin's: {id} is :id, {rest...} is *rest.
func ginPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := strings.Trim(s, "{}")
			if rest, ok := strings.CutSuffix(name, "..."); ok {
				parts[i] = "*" + rest
			} else {
				parts[i] = ":" + name
			}
		}
	}
	return strings.Join(parts, "/")
}

// skipper adapts a neutral Skip to Gin's (nil: never skip).
func skipper(skip adaptertest.Skip) func(*gin.Context) bool {
	if skip == nil {
		return nil
	}
	return func(c *gin.Context) bool { return skip(c.Request) }
}

// ginRow is this adapter's row of the shared behaviour table.
var ginRow = adaptertest.Adapter{
	Name: "gin",
	Router: func(routes []adaptertest.Route, mw ...adaptertest.Middleware) http.Handler {
		e := gin.New()
		for _, rt := range routes {
			hs := make([]gin.HandlerFunc, 0, len(mw)+1)
			for _, m := range mw {
				hs = append(hs, m.(gin.HandlerFunc))
			}
			hs = append(hs, func(c *gin.Context) {
				rt.Handler.ServeHTTP(c.Writer, c.Request)
				if rt.Fail != 0 {
					c.AbortWithStatus(rt.Fail)
				}
			})
			if rt.Method == "" {
				e.Any(ginPath(rt.Path), hs...)
			} else {
				e.Handle(rt.Method, ginPath(rt.Path), hs...)
			}
		}
		return e
	},
	RateLimit: func(opts ratelimit.GuardOptions, skip adaptertest.Skip) adaptertest.Middleware {
		return ginadapter.RateLimitWithConfig(ginadapter.RateLimitConfig{GuardOptions: opts, Skipper: skipper(skip)})
	},
	HTTPCache: func(c *httpcache.Cache, skip adaptertest.Skip) adaptertest.Middleware {
		return ginadapter.HTTPCacheWithConfig(ginadapter.HTTPCacheConfig{Cache: c, Skipper: skipper(skip)})
	},
	ViewCount: func(t *viewcount.Tracker, skip adaptertest.Skip) adaptertest.Middleware {
		return ginadapter.ViewCountWithConfig(ginadapter.ViewCountConfig{Tracker: t, Skipper: skipper(skip)})
	},
}

func TestBehaviourTable(t *testing.T) { adaptertest.Run(t, ginRow) }
