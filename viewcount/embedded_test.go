package viewcount_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/viewcount"
)

// TestBufferedOnEmbeddedRedis runs a buffered flush on miniredis, the
// embedded Redis of the examples, whose Lua engine returns a one-entry flush
// result as an integer rather than a string.
func TestBufferedOnEmbeddedRedis(t *testing.T) {
	srv := miniredis.RunT(t)
	c, err := core.New(core.Config{URL: "redis://" + srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	v, err := viewcount.New(c, viewcount.Options{Secret: []byte("0123456789abcdef"), Mode: viewcount.Buffered, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Record(ctx, "a", "visitor-1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Flush(ctx); err != nil {
		t.Fatalf("Flush: got %v, want nil", err)
	}
	if err := v.Close(ctx); err != nil {
		t.Fatalf("Close: got %v, want nil", err)
	}
	top, err := v.Top(ctx, 5, 24*time.Hour)
	if err != nil || len(top) != 1 || top[0].Item != "a" || top[0].Views != 1 {
		t.Errorf("Top: got %v, %v, want [{a 1}]", top, err)
	}
}
