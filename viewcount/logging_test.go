package viewcount_test

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
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

// Without hooks, Redis failures stay visible: the Tracker logs each one
// through slog.Default() and counts it in Stats, and a buffered Counter
// logs failed flushes and the views Close gives up on. Not parallel: it
// replaces slog.Default().
func TestDefaultHooksLog(t *testing.T) {
	logs := captureLog(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
	direct, err := viewcount.New(c, viewcount.Options{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	buffered, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Mode: viewcount.Buffered, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(direct, viewcount.TrackerOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := request(http.MethodGet, "/posts/42?token=q-do-not-log", "203.0.113.7:1234", browserUA)
	r.Pattern = "GET /posts/{id}"
	serve(tr, r, http.StatusOK)
	if got := tr.Stats(); got != (viewcount.TrackerStats{Recorded: 1}) {
		t.Fatalf("Redis up: got %+v, want 1 recorded, no error", got)
	}
	ctx := context.Background()
	for i := range 3 {
		if err := buffered.Record(ctx, "post-7", "visitor-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()

	serve(tr, r, http.StatusOK)
	if got := tr.Stats(); got != (viewcount.TrackerStats{Recorded: 1, Errors: 1}) {
		t.Errorf("Redis stopped: got %+v, want 1 recorded, 1 error", got)
	}
	flushCtx, cancelFlush := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelFlush()
	if err := buffered.Flush(flushCtx); err == nil {
		t.Error("Flush with Redis stopped: got nil, want an error")
	}
	closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := buffered.Close(closeCtx); err == nil {
		t.Error("Close with Redis stopped: got nil, want an error")
	}

	got := logs.String()
	for _, want := range []string{
		`level=WARN msg="viewcount: view not counted" method=GET err=`,
		`pattern="GET /posts/{id}"`,
		`level=WARN msg="viewcount: flush failed, batch kept for retry" views=3 err=`,
		`level=WARN msg="viewcount: views dropped" views=3 err=`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log: got\n%s\nwant a line holding %s", got, want)
		}
	}
	for _, leak := range []string{"do-not-log", "203.0.113.7", "visitor-"} {
		if strings.Contains(got, leak) {
			t.Errorf("log: got\n%s\nwant no %q", got, leak)
		}
	}
}
