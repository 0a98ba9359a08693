// Command quickstart walks through the Python reusables.redis README's Quick
// Start and usage examples with rediskit's core package: simple caching,
// page views, cache invalidation and hashes. It uses REDIS_URL (or
// REDIS_HOST, REDIS_CLUSTER_ADDRS) when set and an embedded in-process Redis
// otherwise, and says which.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/redisconn"
)

func main() {
	ctx := context.Background()
	conn, err := redisconn.Open(ctx, redisconn.ModeAuto)
	if err != nil {
		log.Fatalf("quickstart: %v", err)
	}
	defer conn.Close()
	fmt.Println("using", conn.Description)
	if err := run(ctx, conn.Client, os.Stdout); err != nil {
		log.Fatalf("quickstart: %v", err)
	}
}

// User is the record the examples cache.
type User struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

// run prints each step; keys live under "quickstart:" and are removed at the end.
func run(ctx context.Context, c *core.Client, w io.Writer) error {
	defer c.InvalidatePrefix(ctx, service+":")
	for _, step := range []func(context.Context, *core.Client, io.Writer) error{
		quickStart, simpleCaching, pageViews, rateLimit, invalidation, hashes, purge,
	} {
		if err := step(ctx, c, w); err != nil {
			return err
		}
	}
	return nil
}

// service namespaces every key of the walk-through.
const service = "quickstart"

// quickStart is the Python README's Quick Start: cache_set / cache_get.
func quickStart(ctx context.Context, c *core.Client, w io.Writer) error {
	userKey := core.MakeKey(service, "cache", "user", "123")
	if err := c.CacheSetTTL(ctx, userKey, User{Name: "Noah", Age: 21}, time.Hour); err != nil {
		return err
	}
	var user User
	if _, err := c.CacheGet(ctx, userKey, &user); err != nil {
		return err
	}
	fmt.Fprintf(w, "cache_get(%s) = %+v\n", userKey, user)
	if err := c.Ping(ctx); err != nil {
		return err
	}
	fmt.Fprintln(w, "ping = true")
	return nil
}

// simpleCaching reads through the cache, loading on a miss.
func simpleCaching(ctx context.Context, c *core.Client, w io.Writer) error {
	loads := 0
	getUser := func(id string) (User, error) {
		key := core.MakeKey(service, "cache", "user", id)
		var u User
		found, err := c.CacheGet(ctx, key, &u)
		if err != nil || found {
			return u, err
		}
		loads++ // cache miss: "fetch from the database"
		u = User{Name: "user-" + id, Age: 30}
		return u, c.CacheSet(ctx, key, u)
	}
	for range 3 {
		if _, err := getUser("42"); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "get_user(42) three times: %d database load(s)\n", loads)
	return nil
}

// pageViews is the page view counter.
func pageViews(ctx context.Context, c *core.Client, w io.Writer) error {
	viewsKey := core.MakeKey(service, "views", "page", "home")
	for range 5 {
		if _, err := c.Increment(ctx, viewsKey, 1); err != nil {
			return err
		}
	}
	views, err := core.GetOr(ctx, c, viewsKey, int64(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "page views of home = %d\n", views)
	return nil
}

// rateLimit counts requests in a window without the INCR-then-SET bug: the
// count and its TTL are set atomically.
func rateLimit(ctx context.Context, c *core.Client, w io.Writer) error {
	rlKey := core.MakeKey(service, "ratelimit", "user", "123")
	var wc core.WindowCount
	var err error
	for range 3 {
		if wc, err = c.IncrementWindow(ctx, rlKey, 1, time.Hour); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "rate limit count = %d, window resets in about %s\n", wc.Count, wc.TTL.Round(time.Minute))
	return nil
}

// invalidation drops everything cached for user 123, by prefix (the id is
// matched literally, so an id of "*" could not widen it).
func invalidation(ctx context.Context, c *core.Client, w io.Writer) error {
	for _, part := range []string{"profile", "settings", "orders"} {
		if err := c.CacheSet(ctx, core.MakeKey(service, "cache", "user", "123", part), part); err != nil {
			return err
		}
	}
	n, err := c.InvalidatePrefix(ctx, core.MakeKey(service, "cache", "user", "123")+":")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "invalidated %d cache entries of user 123\n", n)
	return nil
}

// hashes stores structured data as fields of one key.
func hashes(ctx context.Context, c *core.Client, w io.Writer) error {
	profileKey := core.MakeKey(service, "user", "123", "profile")
	for field, value := range map[string]any{"name": "Noah", "age": 21, "city": "Oslo"} {
		if _, err := c.HashSet(ctx, profileKey, field, value); err != nil {
			return err
		}
	}
	var profile struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
		City string `json:"city"`
	}
	if _, err := c.HashGetAll(ctx, profileKey, &profile); err != nil {
		return err
	}
	fmt.Fprintf(w, "hash_get_all(%s) = %+v\n", profileKey, profile)
	return nil
}

// purge removes the service's cache entries.
func purge(ctx context.Context, c *core.Client, w io.Writer) error {
	purged, err := c.PurgeCache(ctx, service)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "purge_cache(%s) removed %d key(s)\n", service, purged)
	return nil
}
