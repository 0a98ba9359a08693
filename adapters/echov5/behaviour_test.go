package echov5adapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rediskit/rediskit/adapters/echov5"
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
func skipper(skip adaptertest.Skip) middleware.Skipper {
	if skip == nil {
		return nil
	}
	return func(c *echo.Context) bool { return skip(c.Request()) }
}

// echoV5 is this adapter's row of the shared behaviour table.
var echoV5 = adaptertest.Adapter{
	Name: "echov5",
	Router: func(routes []adaptertest.Route, mw ...adaptertest.Middleware) http.Handler {
		e := echo.New()
		mws := make([]echo.MiddlewareFunc, len(mw))
		for i, m := range mw {
			mws[i] = m.(echo.MiddlewareFunc)
		}
		for _, rt := range routes {
			h := func(c *echo.Context) error {
				rt.Handler.ServeHTTP(c.Response(), c.Request())
				if rt.Fail != 0 {
					return echo.NewHTTPError(rt.Fail, http.StatusText(rt.Fail))
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
		cfg := echov5adapter.DefaultRateLimiterConfig
		cfg.GuardOptions = opts
		if s := skipper(skip); s != nil {
			cfg.Skipper = s
		}
		return echov5adapter.RateLimiterWithConfig(cfg)
	},
	HTTPCache: func(c *httpcache.Cache, skip adaptertest.Skip) adaptertest.Middleware {
		return echov5adapter.HTTPCacheWithConfig(echov5adapter.HTTPCacheConfig{Cache: c, Skipper: skipper(skip)})
	},
	ViewCount: func(t *viewcount.Tracker, skip adaptertest.Skip) adaptertest.Middleware {
		return echov5adapter.ViewCountWithConfig(echov5adapter.ViewCountConfig{Tracker: t, Skipper: skipper(skip)})
	},
}

func TestBehaviourTable(t *testing.T) { adaptertest.Run(t, echoV5) }
