// Package window is the windowed increment shared by core.IncrementWindow
// and the rate limiter's batches: INCRBY and PEXPIRE NX in one transaction,
// so a counter is never left without its TTL and never counted twice.
package window

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/call"
)

// Queue queues on p, which must be a transaction (see
// redis.Client.TxPipelined), the Redis 7+ windowed increment: INCRBY key
// amount, marked to be sent at most once (never resent after a network
// error, so never counted twice), then PEXPIRE key window NX, which sets the
// TTL of a new counter, or of one left without a TTL, and leaves a running
// window's alone. A window under 1 ms counts as 1 ms. A server before Redis
// 7 refuses PEXPIRE NX while queueing it and discards the whole transaction:
// then NXUnsupported(expire.Err()) is true and nothing changed; use a Lua
// script instead.
func Queue(ctx context.Context, p redis.Pipeliner, key string, amount int64, window time.Duration) (incr *redis.IntCmd, expire *redis.Cmd) {
	incr = redis.NewIntCmd(ctx, "incrby", key, amount)
	_ = p.Process(ctx, call.NoRetry{Cmder: incr})
	expire = p.Do(ctx, "pexpire", key, max(window, time.Millisecond).Milliseconds(), "nx")
	return incr, expire
}

// NXUnsupported reports whether err is a server before Redis 7 refusing
// PEXPIRE … NX (see Queue).
func NXUnsupported(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "syntax error") || strings.Contains(msg, "unsupported option") ||
		strings.Contains(msg, "wrong number of arguments")
}
