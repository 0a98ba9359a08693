package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/examples/internal/embedded"
)

// TestKeysExpireInRealTime checks what a bare miniredis does not do: a key
// with a TTL disappears once the TTL has passed, without anyone moving the
// clock.
func TestKeysExpireInRealTime(t *testing.T) {
	srv, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := rdb.Exists(ctx, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 50ms TTL still exists after 2s; want it expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Close()
	srv.Close() // idempotent
}
