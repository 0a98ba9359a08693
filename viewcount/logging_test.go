package viewcount_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/logcapture"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// Without an OnError, Redis failures stay visible: the Tracker's failed
// record is logged through slog.Default() with the request's method and
// route, and the buffered Counter's failed flush, within the same second,
// is suppressed by the one-record-per-second limit of the package's
// default report; both are counted in Stats. Not parallel: it replaces
// slog.Default().
func TestDefaultOnErrorLogs(t *testing.T) {
	logs := logcapture.Start(t)
	viewcount.ResetDefaultReport()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
	direct, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	buffered, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Mode: viewcount.Buffered, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(direct, viewcount.TrackerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := request(http.MethodGet, "/posts/42?token=q-do-not-log", "203.0.113.7:1234", browserUA)
	r.Pattern = "GET /posts/{id}"
	serve(tr, r, http.StatusOK)
	if got := direct.Stats(); got.Recorded != 1 || got.Errors != 0 {
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
	if got := direct.Stats(); got.Recorded != 1 || got.Errors != 1 {
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
	if got := buffered.Stats(); got.Recorded != 3 || got.Dropped != 3 || got.Pending != 0 ||
		got.FlushErrors < 1 || got.Errors < 2 {
		t.Errorf("buffered: got %+v, want 3 recorded and dropped, a flush error, 2+ errors", got)
	}

	got := logs.String()
	for _, want := range []string{
		`level=WARN msg="viewcount: redis failure" err="viewcount: record \"/posts/42\": `,
		`method=GET pattern="GET /posts/{id}"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log: got\n%s\nwant a line holding %s", got, want)
		}
	}
	if n := strings.Count(got, `msg="viewcount: redis failure"`); n != 1 {
		t.Errorf("log: got %d records within a second, want 1 (the rest suppressed):\n%s", n, got)
	}
	for _, leak := range []string{"do-not-log", "203.0.113.7", "visitor-"} {
		if strings.Contains(got, leak) {
			t.Errorf("log: got\n%s\nwant no %q", got, leak)
		}
	}
}

// OnError receives every failure: a Tracker's record (with its request), a
// failed flush, and the views Close gave up on, with their number; OnFlush
// and OnDrop still see theirs.
func TestOnErrorReceivesEveryFailure(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := core.NewFromRedis(srv.Client(t, &redis.Options{MaxRetries: -1}))
	var mu sync.Mutex
	var errs []error
	var withRequest int
	onError := func(ctx context.Context, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
		if core.RequestFromContext(ctx) != nil {
			withRequest++
		}
	}
	var flushes, dropped int64
	direct, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Timeout: 200 * time.Millisecond, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	buffered, err := viewcount.New(c, viewcount.Options{Secret: testSecret, Mode: viewcount.Buffered,
		FlushInterval: time.Hour, OnError: onError,
		OnFlush: func(fi viewcount.FlushInfo) {
			if fi.Err != nil {
				mu.Lock()
				flushes++
				mu.Unlock()
			}
		},
		OnDrop: func(n int64, _ error) {
			mu.Lock()
			dropped += n
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(direct, viewcount.TrackerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if err := buffered.Record(ctx, "post-7", "visitor-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	serve(tr, request(http.MethodGet, "/posts/42", "203.0.113.7:1234", browserUA), http.StatusOK)
	flushCtx, cancelFlush := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelFlush()
	_ = buffered.Flush(flushCtx)
	closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_ = buffered.Close(closeCtx)

	mu.Lock()
	defer mu.Unlock()
	var record, flush, drop int
	for _, err := range errs {
		switch msg := err.Error(); {
		case strings.HasPrefix(msg, `viewcount: record "/posts/42": `):
			record++
		case strings.HasPrefix(msg, "viewcount: flush of 3 views failed, kept for retry: "):
			flush++
		case strings.HasPrefix(msg, "viewcount: 3 views dropped: "):
			drop++
		default:
			t.Errorf("OnError: got unexpected %v", err)
		}
	}
	if record != 1 || withRequest != 1 || flush < 1 || drop != 1 {
		t.Errorf("OnError: got %d record (%d with the request), %d flush, %d drop failures, want 1 (1), 1+, 1: %v",
			record, withRequest, flush, drop, errs)
	}
	if flushes != int64(flush) || dropped != 3 {
		t.Errorf("OnFlush, OnDrop: got %d failed flushes and %d views dropped, want %d and 3", flushes, dropped, flush)
	}
	if s := direct.Stats(); s.Errors != 1 {
		t.Errorf("direct Stats: got %+v, want 1 error", s)
	}
	if s := buffered.Stats(); s.Errors != int64(flush+drop) || s.FlushErrors != int64(flush) {
		t.Errorf("buffered Stats: got %+v, want %d errors, %d flush errors", s, flush+drop, flush)
	}
}
