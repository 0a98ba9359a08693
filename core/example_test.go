package core_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// exampleClient connects to an empty Redis of the test harness (a private
// redis-server, or the embedded Redis where none is installed).
func exampleClient() (*core.Client, func()) {
	rdb, done := redistest.ExampleClient()
	c, err := core.New(core.Config{URL: "redis://" + rdb.Options().Addr})
	if err != nil {
		panic(err)
	}
	return c, func() { c.Close(); done() }
}

func ExampleClient_CacheSet() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	type User struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	key := core.MakeKey("firstapi", "cache", "user", "123")
	if err := c.CacheSet(ctx, key, User{Name: "Noah", Age: 21}); err != nil {
		panic(err)
	}
	var u User
	found, err := c.CacheGet(ctx, key, &u)
	ttl, _ := c.TTL(ctx, key)
	fmt.Println(found, err, u.Name, u.Age, ttl > 59*time.Minute && ttl <= time.Hour) // the default cache TTL, 1 h, counting down
	// Output: true <nil> Noah 21 true
}

func ExampleGetOr() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	name, err := core.GetOr(ctx, c, "missing_key", "Unknown")
	fmt.Println(name, err)
	// Output: Unknown <nil>
}

func ExampleClient_Increment() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	key := core.MakeKey("blog", "views", "page", "home")
	c.Increment(ctx, key, 1)
	views, _ := c.Increment(ctx, key, 10)
	fmt.Println(views)
	// Output: 11
}

func ExampleClient_IncrementWindow() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	// A fixed-window counter that can never be left without its TTL.
	key := core.MakeKey("api", "ratelimit", "user", "123")
	for range 3 {
		c.IncrementWindow(ctx, key, 1, time.Hour)
	}
	wc, _ := c.IncrementWindow(ctx, key, 1, time.Hour)
	fmt.Println(wc.Count, wc.TTL > 0 && wc.TTL <= time.Hour) // the TTL set by the first increment, counting down
	// Output: 4 true
}

func ExampleClient_GetMany() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	c.SetMany(ctx, map[string]any{"user:1": "Noah", "user:2": "Alice"}, time.Hour)
	users, _ := core.GetManyAs[string](ctx, c, []string{"user:1", "user:2", "user:3"})
	fmt.Println(len(users), users["user:1"], users["user:2"])
	// Output: 2 Noah Alice
}

func ExampleClient_InvalidatePrefix() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	c.Set(ctx, "cache:user:*:profile", "literal star", 0)
	c.Set(ctx, "cache:user:123:profile", "noah", 0)
	// A user-supplied id of "*" only matches keys that really contain "*".
	userID := "*"
	n, _ := c.InvalidatePrefix(ctx, core.MakeKey("cache", "user", userID)+":")
	left, _ := c.Exists(ctx, "cache:user:123:profile")
	fmt.Println(n, left)
	// Output: 1 true
}

func ExampleClient_PurgeCache() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	c.CacheSet(ctx, "firstapi:cache:user:1", 1)
	c.CacheSet(ctx, "auth:cache:token:1", 1)
	n, _ := c.PurgeCache(ctx, "firstapi")
	fmt.Println(n)
	// Output: 1
}

func ExampleClient_HashGetAll() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	key := core.MakeKey("user", "123", "profile")
	c.HashSet(ctx, key, "name", "Noah")
	c.HashSet(ctx, key, "age", 21)
	var profile struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	c.HashGetAll(ctx, key, &profile)
	fmt.Println(profile.Name, profile.Age)
	// Output: Noah 21
}

func ExampleMakeKey() {
	fmt.Println(core.MakeKey("firstapi", "cache", "user", "123"))
	// Output: firstapi:cache:user:123
}

func ExampleEscapeGlob() {
	fmt.Println(core.EscapeGlob("a*b?[c]"))
	// Output: a\*b\?\[c\]
}

func ExampleConfigFromEnv() {
	// REDIS_PASSWORD never appears in String().
	cfg, _ := core.ConfigFromLookup(func(name string) string {
		return map[string]string{"REDIS_HOST": "127.0.0.1", "REDIS_PASSWORD": "hunter2"}[name]
	})
	fmt.Println(cfg)
	// Output: environment=local addr=127.0.0.1:6379 db=0 password=REDACTED
}
