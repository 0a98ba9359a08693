package bench

// Rate-limit benchmarks (issue 4): rediskit's limiters against
// github.com/go-redis/redis_rate/v10 and github.com/ulule/limiter/v3 (Redis
// store) on the same real redis-server, the baseline first.
//
//	go test -run '^$' -bench 'RateLimit' -benchmem -count 10 . | tee rl.txt
//	./run.sh compare rl.txt

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	echov5 "github.com/labstack/echo/v5"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"

	echoadapter "github.com/rediskit/rediskit/adapters/echo"
	echov5adapter "github.com/rediskit/rediskit/adapters/echov5"
	ginadapter "github.com/rediskit/rediskit/adapters/gin"
	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// rlKeys is the number of distinct clients the throughput benchmark spreads
// its decisions over; every decision is allowed (a limit nobody reaches), so
// each one goes to Redis: no deny cache involved.
const rlKeys = 10_000

// rlCallers is the number of concurrent callers of the throughput benchmark.
const rlCallers = 256

// rlServer starts a dedicated redis-server, so the benchmark does not share
// CPU with other benchmarks' keys, and returns a client with a pool big
// enough for rlCallers unpipelined callers.
func rlServer(b *testing.B) *redis.Client {
	srv := redistest.StartServer(b, redistest.ServerOptions{})
	return srv.Client(b, &redis.Options{PoolSize: rlCallers})
}

// BenchmarkRateLimitDecisions measures decisions per second with 256
// concurrent callers. impl=redis_rate and impl=ulule are the peers;
// impl=fixed is rediskit's fixed window (batched MULTI), impl=fixed-script
// its Lua path (clusters, Redis < 7) and impl=gcra rediskit's GCRA
// (redis_rate's script, auto-pipelined).
func BenchmarkRateLimitDecisions(b *testing.B) {
	ctx := context.Background()
	type decide func(ctx context.Context, key string) (bool, error)
	impls := []struct {
		name string
		make func(b *testing.B, rdb *redis.Client) decide
	}{
		{"redis_rate", func(b *testing.B, rdb *redis.Client) decide {
			l, lim := redis_rate.NewLimiter(rdb), redis_rate.PerHour(1_000_000_000)
			return func(ctx context.Context, key string) (bool, error) {
				r, err := l.Allow(ctx, key, lim)
				return err == nil && r.Allowed > 0, err
			}
		}},
		{"ulule", func(b *testing.B, rdb *redis.Client) decide {
			store, err := sredis.NewStoreWithOptions(rdb, limiter.StoreOptions{Prefix: "ulule"})
			if err != nil {
				b.Fatal(err)
			}
			l := limiter.New(store, limiter.Rate{Period: time.Hour, Limit: 1_000_000_000})
			return func(ctx context.Context, key string) (bool, error) {
				r, err := l.Get(ctx, key)
				return err == nil && !r.Reached, err
			}
		}},
		{"fixed", func(b *testing.B, rdb *redis.Client) decide {
			return rlLimiter(b, rdb, false, false)
		}},
		{"fixed-script", func(b *testing.B, rdb *redis.Client) decide {
			return rlLimiter(b, rdb, true, false)
		}},
		{"gcra", func(b *testing.B, rdb *redis.Client) decide {
			return rlLimiter(b, rdb, false, true)
		}},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			rdb := rlServer(b)
			d := impl.make(b, rdb)
			if _, err := d(ctx, "warm"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(max(1, rlCallers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(rlKeys)
				for pb.Next() {
					i = (i + 1) % rlKeys
					ok, err := d(ctx, "client-"+strconv.Itoa(i))
					if err != nil || !ok {
						b.Errorf("got %v, %v, want allowed", ok, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

func rlLimiter(b *testing.B, rdb *redis.Client, script, gcra bool) func(context.Context, string) (bool, error) {
	c := core.NewFromRedis(rdb)
	var l ratelimit.Limiter
	var err error
	switch {
	case gcra:
		l, err = ratelimit.NewGCRA(c, ratelimit.Options{Limit: 1_000_000_000, Window: time.Hour, Timeout: 5 * time.Second})
	case script:
		// A cost of 2 takes the Lua path the cluster and Redis < 7 use.
		fw, e := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 1_000_000_000, Window: time.Hour, Timeout: 5 * time.Second})
		err = e
		l = costTwo{fw}
	default:
		l, err = ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 1_000_000_000, Window: time.Hour, Timeout: 5 * time.Second})
	}
	if err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, key string) (bool, error) {
		r, err := l.Allow(ctx, key)
		return r.Allowed, err
	}
}

// costTwo makes every Allow an AllowN(2).
type costTwo struct{ *ratelimit.RedisLimiter }

func (c costTwo) Allow(ctx context.Context, key string) (ratelimit.Result, error) {
	return c.AllowN(ctx, key, 2)
}

// rlTrips counts round trips: one per command sent alone, one per pipeline.
type rlTrips struct{ n atomic.Int64 }

func (h *rlTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rlTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *rlTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkRateLimitRoundTrips reports Redis round trips per decision, from
// one caller: 1 for a decision, 0 once the client is denied (local deny
// cache). impl=redis_rate is the peer for the first.
func BenchmarkRateLimitRoundTrips(b *testing.B) {
	ctx := context.Background()
	b.Run("case=allowed/impl=redis_rate", func(b *testing.B) {
		rdb := rlServer(b)
		var h rlTrips
		rdb.AddHook(&h)
		l := redis_rate.NewLimiter(rdb)
		_, _ = l.Allow(ctx, "warm", redis_rate.PerHour(1_000_000_000))
		h.n.Store(0)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := l.Allow(ctx, "c"+strconv.Itoa(i%rlKeys), redis_rate.PerHour(1_000_000_000)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/op")
	})
	for _, c := range []struct {
		name  string
		limit int
	}{{"allowed", 1_000_000_000}, {"denied", 1}} {
		b.Run("case="+c.name+"/impl=rediskit", func(b *testing.B) {
			rdb := rlServer(b)
			var h rlTrips
			rdb.AddHook(&h)
			l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: c.limit, Window: time.Hour,
				Timeout: 5 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			for range 2 { // warm up; with limit 1 the second call denies "c0"
				_, _ = l.Allow(ctx, "c0")
			}
			h.n.Store(0)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key := "c0"
				if c.limit > 1 {
					key = "c" + strconv.Itoa(i%rlKeys)
				}
				if _, err := l.Allow(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(h.n.Load())/float64(b.N), "trips/op")
		})
	}
}

// BenchmarkRateLimitMiddleware measures an allowed request through the
// middleware against the bare handler (impl=bare), for every adapter:
// net/http, Echo v4, Echo v5 and Gin.
// The difference is the middleware's cost: key, one Redis decision, headers.
func BenchmarkRateLimitMiddleware(b *testing.B) {
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	echoOK := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	echov5OK := func(c *echov5.Context) error { return c.String(http.StatusOK, "ok") }
	gin.SetMode(gin.ReleaseMode)
	ginOK := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	newLimiter := func(b *testing.B) ratelimit.Limiter {
		l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rlServer(b)), ratelimit.Options{Limit: 1_000_000_000, Window: time.Hour,
			Timeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	handlers := []struct {
		name string
		make func(b *testing.B) http.Handler
	}{
		{"router=nethttp/impl=bare", func(*testing.B) http.Handler { return http.HandlerFunc(ok) }},
		{"router=nethttp/impl=ratelimit", func(b *testing.B) http.Handler {
			return nethttp.RateLimit(newLimiter(b))(http.HandlerFunc(ok))
		}},
		{"router=echo/impl=bare", func(*testing.B) http.Handler {
			e := echo.New()
			e.GET("/", echoOK)
			return e
		}},
		{"router=echo/impl=ratelimit", func(b *testing.B) http.Handler {
			e := echo.New()
			e.Use(echoadapter.RateLimiter(newLimiter(b)))
			e.GET("/", echoOK)
			return e
		}},
		{"router=echov5/impl=bare", func(*testing.B) http.Handler {
			e := echov5.New()
			e.GET("/", echov5OK)
			return e
		}},
		{"router=echov5/impl=ratelimit", func(b *testing.B) http.Handler {
			e := echov5.New()
			e.Use(echov5adapter.RateLimiter(newLimiter(b)))
			e.GET("/", echov5OK)
			return e
		}},
		{"router=gin/impl=bare", func(*testing.B) http.Handler {
			g := gin.New()
			g.GET("/", ginOK)
			return g
		}},
		{"router=gin/impl=ratelimit", func(b *testing.B) http.Handler {
			g := gin.New()
			g.Use(ginadapter.RateLimit(newLimiter(b)))
			g.GET("/", ginOK)
			return g
		}},
	}
	for _, hc := range handlers {
		b.Run(hc.name, func(b *testing.B) {
			h := hc.make(b)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("got status %d, want 200", w.Code)
				}
			}
		})
	}
}
