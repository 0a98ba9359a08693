package viewcount_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// Without hooks, Redis failures stay visible: the Tracker logs each one
// through slog.Default() and counts it in Stats, and a buffered Counter
// logs failed flushes and the views Close gives up on. Not parallel: it
// replaces slog.Default().
func TestDefaultHooksLog(t *testing.T) {
	logs := logcapture.Start(t)
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
