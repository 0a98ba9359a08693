package nethttp_test

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// logBuffer is a buffer safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureLog sends slog.Default() to a buffer (text format) until t ends,
// then restores it and the log package's output. t must not be parallel.
func captureLog(t *testing.T) *logBuffer {
	t.Helper()
	b := &logBuffer{}
	old, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(b, nil)))
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
	return b
}

// checkTTLs registers a cleanup that fails t if any key of rdb, a server of
// the test's own, has no TTL: the invariant every limiter keeps. It runs
// before the server stops (cleanups run last registered first).
func checkTTLs(t *testing.T, rdb *redis.Client) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		var bad []string
		n := 0
		iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			n++
			if ttl, err := rdb.PTTL(ctx, iter.Val()).Result(); err == nil && ttl == -1 {
				bad = append(bad, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning keys: %v", err)
		}
		if n == 0 {
			t.Errorf("keys: got none, want the limiters' counters")
		}
		if len(bad) > 0 {
			t.Errorf("keys without TTL: got %q, want none", bad)
		}
	})
}
