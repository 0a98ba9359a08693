package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/embedded"
	"github.com/rediskit/rediskit/viewcount"
)

// TestBufferedOnEmbeddedRedis runs a viewcount buffered flush on the
// embedded Redis (miniredis), whose Lua engine returns a one-entry flush
// result as an integer rather than a string. It lives here, beside the
// embedded server, so the root module's tests do not depend on miniredis.
func TestBufferedOnEmbeddedRedis(t *testing.T) {
	srv, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
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
