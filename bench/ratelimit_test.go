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
	"strings"
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

// rlDecide is one decision of an implementation under benchmark.
type rlDecide func(ctx context.Context, key string) (bool, error)

// rlImpl is an implementation of the decision benchmarks; used, when not
// nil, returns how many units the limiter counted for key (to check
// exactness after a run).
type rlImpl struct {
	name string
	make func(b *testing.B, rdb *redis.Client) (rlDecide, func(key string) int64)
}

// rlImpls are the peers (redis_rate, ulule), then rediskit's limiters:
// fixed (the batched MULTI of a standalone Redis 7+), fixed-script (its Lua
// path: clusters, Redis < 7, costs above 1), gcra and multi (two fixed
// windows at once), all with a limit nobody reaches.
func rlImpls() []rlImpl {
	return []rlImpl{
		{"redis_rate", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			l, lim := redis_rate.NewLimiter(rdb), redis_rate.PerHour(1_000_000_000)
			return func(ctx context.Context, key string) (bool, error) {
				r, err := l.Allow(ctx, key, lim)
				return err == nil && r.Allowed > 0, err
			}, nil
		}},
		{"ulule", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			store, err := sredis.NewStoreWithOptions(rdb, limiter.StoreOptions{Prefix: "ulule"})
			if err != nil {
				b.Fatal(err)
			}
			l := limiter.New(store, limiter.Rate{Period: time.Hour, Limit: 1_000_000_000})
			return func(ctx context.Context, key string) (bool, error) {
				r, err := l.Get(ctx, key)
				return err == nil && !r.Reached, err
			}, nil
		}},
		{"fixed", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			return rlLimiter(b, rdb, "fixed")
		}},
		{"fixed-script", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			return rlLimiter(b, rdb, "fixed-script")
		}},
		{"gcra", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			return rlLimiter(b, rdb, "gcra")
		}},
		{"multi", func(b *testing.B, rdb *redis.Client) (rlDecide, func(string) int64) {
			return rlLimiter(b, rdb, "multi")
		}},
	}
}

// BenchmarkRateLimitDecisions measures decisions per second with 256
// concurrent callers spread over 10,000 keys, each implementation of
// rlImpls on its own redis-server.
func BenchmarkRateLimitDecisions(b *testing.B) {
	for _, impl := range rlImpls() {
		b.Run("impl="+impl.name, func(b *testing.B) {
			rlRun(b, impl, func(i int) string { return "client-" + strconv.Itoa(i%rlKeys) })
		})
	}
}

// BenchmarkRateLimitHotKey measures decisions per second with 256
// concurrent callers all on one key (an API-wide or per-tenant limit), each
// implementation of rlImpls on its own redis-server. For the counters it
// then checks the count is exact: one unit per decision.
func BenchmarkRateLimitHotKey(b *testing.B) {
	for _, impl := range rlImpls() {
		b.Run("impl="+impl.name, func(b *testing.B) {
			rlRun(b, impl, func(int) string { return "tenant" })
		})
	}
}

// rlRun runs impl's decisions from rlCallers goroutines on the keys key(i)
// gives, and reports decisions/s, the benchmark process's CPU per decision
// (cpu-ns/op: the client's share, with the benchmark loop) and
// redis-server's (server-µs/op).
func rlRun(b *testing.B, impl rlImpl, key func(i int) string) {
	ctx := context.Background()
	rdb := rlServer(b)
	d, counted := impl.make(b, rdb)
	if _, err := d(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	var decided atomic.Int64
	cpu, client := rlServerCPU(b, rdb), coreCPU()
	b.ReportAllocs()
	b.SetParallelism(max(1, rlCallers/runtime.GOMAXPROCS(0)))
	start := time.Now() // the windows counted are hours (see rlLimiter)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(rlKeys)
		for pb.Next() {
			i++
			ok, err := d(ctx, key(i))
			if err != nil || !ok {
				b.Errorf("got %v, %v, want allowed", ok, err)
				return
			}
			decided.Add(1)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(float64(coreCPU()-client)/float64(b.N), "cpu-ns/op")
	b.ReportMetric((rlServerCPU(b, rdb)-cpu).Seconds()*1e6/float64(b.N), "server-µs/op")
	if k := key(0); counted != nil && key(1) == k {
		if start.Truncate(time.Hour) != time.Now().Truncate(time.Hour) {
			b.Logf("the run crossed an hour boundary, so its decisions span two windows: count not checked")
			return
		}
		if got := counted(k); got != decided.Load() {
			b.Fatalf("%s counted %d units for %q, want %d (one per decision)", impl.name, got, k, decided.Load())
		}
	}
}

// rlServerCPU returns the CPU time the benchmark's dedicated redis-server
// has used (INFO cpu: used_cpu_user + used_cpu_sys). Per decision, it is
// the server's share of the work, which the load of other processes on
// the machine hardly changes (unlike the wall time).
func rlServerCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu %s: %v", name, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// rlLimiter returns the decisions of one of rediskit's limiters (kind
// "fixed", "fixed-script", "gcra" or "multi") and, for the counters, how
// many units a key used.
func rlLimiter(b *testing.B, rdb *redis.Client, kind string) (rlDecide, func(string) int64) {
	c := core.NewFromRedis(rdb)
	opts := ratelimit.Options{Limit: 1_000_000_000, Window: time.Hour, Timeout: 5 * time.Second}
	var l ratelimit.Limiter
	var err error
	switch kind {
	case "gcra":
		l, err = ratelimit.NewGCRA(c, opts)
	case "fixed-script":
		// A cost of 2 takes the Lua path the cluster and Redis < 7 use.
		fw, e := ratelimit.NewFixedWindow(c, opts)
		err = e
		l = costTwo{fw}
	case "multi":
		l, err = ratelimit.NewMulti(c, ratelimit.Options{Timeout: opts.Timeout, Policies: []ratelimit.Policy{
			{Name: "hour", Limit: 1_000_000_000, Window: time.Hour}, {Name: "day", Limit: 1_000_000_000, Window: 24 * time.Hour}}})
	default:
		l, err = ratelimit.NewFixedWindow(c, opts)
	}
	if err != nil {
		b.Fatal(err)
	}
	decide := func(ctx context.Context, key string) (bool, error) {
		r, err := l.Allow(ctx, key)
		return r.Allowed, err
	}
	if kind == "gcra" {
		return decide, nil
	}
	return decide, func(key string) int64 {
		r, err := l.Peek(context.Background(), key)
		if err != nil {
			b.Fatal(err)
		}
		used := int64(r.Limit - r.Remaining)
		if kind == "fixed-script" {
			used /= 2 // units of cost 2
		}
		return used
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
