package echoadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/adaptertest"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// echoPath turns a ServeMux path into Echo's: {id} is :id, {rest...} is *.
func echoPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := strings.Trim(s, "{}")
			if strings.HasSuffix(name, "...") {
				parts[i] = "*"
			} else {
				parts[i] = ":" + name
			}
		}
	}
	return strings.Join(parts, "/")
}

// skipper adapts a neutral Skip to Echo's (nil: never skip).
func skipper(skip adaptertest.Skip) func(echo.Context) bool {
	if skip == nil {
		return nil
	}
	return func(c echo.Context) bool { return skip(c.Request()) }
}

// echoV4 is this adapter's row of the shared behaviour table.
var echoV4 = adaptertest.Adapter{
	Name: "echo",
	Router: func(routes []adaptertest.Route, mw ...adaptertest.Middleware) http.Handler {
		e := echo.New()
		mws := make([]echo.MiddlewareFunc, len(mw))
		for i, m := range mw {
			mws[i] = m.(echo.MiddlewareFunc)
		}
		for _, rt := range routes {
			h := func(c echo.Context) error {
				rt.Handler.ServeHTTP(c.Response(), c.Request())
				if rt.Fail != 0 {
					return echo.NewHTTPError(rt.Fail)
				}
				return nil
			}
			if rt.Method == "" {
				e.Any(echoPath(rt.Path), h, mws...)
			} else {
				e.Add(rt.Method, echoPath(rt.Path), h, mws...)
			}
		}
		return e
	},
	RateLimit: func(opts ratelimit.GuardOptions, skip adaptertest.Skip) adaptertest.Middleware {
		cfg := echoadapter.DefaultRateLimiterConfig
		cfg.GuardOptions = opts
		if s := skipper(skip); s != nil {
			cfg.Skipper = s
		}
		return echoadapter.RateLimiterWithConfig(cfg)
	},
	HTTPCache: func(c *httpcache.Cache, skip adaptertest.Skip) adaptertest.Middleware {
		return echoadapter.HTTPCacheWithConfig(echoadapter.HTTPCacheConfig{Cache: c, Skipper: skipper(skip)})
	},
	ViewCount: func(t *viewcount.Tracker, skip adaptertest.Skip) adaptertest.Middleware {
		return echoadapter.ViewCountWithConfig(echoadapter.ViewCountConfig{Tracker: t, Skipper: skipper(skip)})
	},
}

func TestBehaviourTable(t *testing.T) { adaptertest.Run(t, echoV4) }
