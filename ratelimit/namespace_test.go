package ratelimit_test

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/ratelimit"
)

// TestPrefixRejected checks that a prefix that would start keys with ":",
// pin every client to one cluster slot or widen a pattern is refused.
func TestPrefixRejected(t *testing.T) {
	t.Parallel()
	// No command is sent: options are checked before any Redis call.
	c := core.NewFromRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	for _, prefix := range []string{":x", "a{b}", "rl*", "a b"} {
		_, err := ratelimit.NewFixedWindow(c, ratelimit.Options{Namespace: prefix})
		if !errors.Is(err, ratelimit.ErrInvalidOptions) || !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Prefix %q: got %v, want ErrInvalidOptions wrapping core.ErrInvalidKey", prefix, err)
		}
	}
}
