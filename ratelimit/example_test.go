package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

func ExampleNewFixedWindow() {
	rdb, done := redistest.ExampleClient() // any Redis; redis.NewClient(&redis.Options{Addr: ...})
	defer done()

	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 2, Window: time.Minute})
	if err != nil {
		panic(err)
	}
	for range 3 {
		res, err := l.Allow(context.Background(), "user:42")
		fmt.Println(res.Allowed, res.Remaining, err)
	}
	// Output:
	// true 1 <nil>
	// true 0 <nil>
	// false 0 <nil>
}

func ExampleNewMulti() {
	rdb, done := redistest.ExampleClient()
	defer done()

	m, err := ratelimit.NewMulti(core.NewFromRedis(rdb), ratelimit.Options{Policies: []ratelimit.Policy{
		{Name: "second", Limit: 2, Window: time.Second},
		{Name: "hour", Limit: 1000, Window: time.Hour},
	}})
	if err != nil {
		panic(err)
	}
	res, _ := m.AllowN(context.Background(), "api-key-7", 3) // 3 > 2 per second: nothing consumed
	fmt.Println(res.Allowed, res.Policy)
	res, _ = m.AllowN(context.Background(), "api-key-7", 2)
	fmt.Println(res.Allowed, res.Policy, res.Remaining)
	// Output:
	// false second
	// true second 0
}

func ExampleGuard() {
	rdb, done := redistest.ExampleClient()
	defer done()

	minuteStart := func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) } // a fixed clock, for the output
	l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 1, Window: time.Minute, Now: minuteStart})
	if err != nil {
		panic(err)
	}
	g, err := ratelimit.NewGuard(ratelimit.GuardOptions{Limiter: l}) // keyed by client IP
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := httptest.NewRecorder()
		g.Serve(w, r, hello)
		fmt.Print(w.Code, " ", w.Header().Get("RateLimit-Policy"), " ", w.Body.String())
	}
	// Output:
	// 200 "default";q=1;w=60 hello
	// 429 "default";q=1;w=60 {"error":"rate_limited","message":"rate limit exceeded","retry_after":60}
}

func ExampleKeyByIP() {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[2001:db8:1:2::7]:443"
	r.Header.Set("X-Forwarded-For", "192.0.2.1") // ignored: no trusted proxy configured
	key, _ := ratelimit.KeyByIP(nil)(r)
	fmt.Println(key)
	// Output: ip:2001:db8:1:2::/64
}
