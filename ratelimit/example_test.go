package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/ratelimit"
)

func ExampleNewFixedWindow() {
	mr, _ := miniredis.Run() // any Redis; an embedded one keeps the example self-contained
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

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
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	m, err := ratelimit.NewMulti(core.NewFromRedis(rdb), ratelimit.MultiOptions{Policies: []ratelimit.Policy{
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

func ExampleSetHeaders() {
	h := http.Header{}
	ratelimit.SetHeaders(h, ratelimit.Result{Allowed: true, Limit: 100, Remaining: 50,
		ResetAfter: 30 * time.Second, Window: time.Minute}, false)
	fmt.Println(h.Get("RateLimit-Policy"))
	fmt.Println(h.Get("RateLimit"))
	// Output:
	// "default";q=100;w=60
	// "default";r=50;t=30
}

func ExampleKeyByIP() {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[2001:db8:1:2::7]:443"
	r.Header.Set("X-Forwarded-For", "192.0.2.1") // ignored: no trusted proxy configured
	key, _ := ratelimit.KeyByIP(nil)(r)
	fmt.Println(key)
	// Output: ip:2001:db8:1:2::/64
}
