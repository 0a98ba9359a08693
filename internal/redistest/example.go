package redistest

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/redis/go-redis/v9"
)

// exampleServer is the private server of the Example functions of one test
// binary, started on first use.
var exampleServer = sync.OnceValues(func() (string, error) {
	if haveRedis() {
		p, err := startShared("examples", false, nil)
		if err != nil {
			return "", err
		}
		return p.addr(), nil
	}
	if requireRedis() {
		return "", fmt.Errorf("redistest: redis-server not found on PATH and REDISKIT_REQUIRE_REDIS=1")
	}
	p, err := startEmbedded()
	if err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "redistest: redis-server not found on PATH; Example functions use the embedded Redis")
	return p.addr, nil
})

// ExampleClient returns a client (with ContextTimeoutEnabled, as core.New
// sets) to an empty Redis, for Example functions, which have no *testing.T,
// and a func that closes the client. The server is private to the test
// binary (never REDIS_URL's, so it may be emptied): a redis-server started on
// first use, or, where redis-server is not installed, the embedded Redis (see
// Standalone). Each call empties it, so an example sees only its own keys;
// examples run one at a time. It panics, with the reason, when no server can
// be started: with REDISKIT_REQUIRE_REDIS=1 and no redis-server, or when the
// embedded Redis cannot be built. The package's TestMain must call Main,
// which stops the server.
func ExampleClient() (*redis.Client, func()) {
	addr, err := exampleServer()
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		panic(fmt.Errorf("redistest: ExampleClient: empty the example server %s: %w", addr, err))
	}
	return rdb, func() { _ = rdb.Close() }
}
