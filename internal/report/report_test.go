package report

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/logcapture"
)

// Not parallel: it replaces slog.Default and the package clock.
func TestDefaultRateLimited(t *testing.T) {
	logs := logcapture.Start(t)
	now := time.Unix(1000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })

	h := Default("memo")
	r := httptest.NewRequest("GET", "/secret/path?token=abc", nil)
	r.Pattern = "GET /secret/{id}"
	ctx := WithRequest(context.Background(), r)
	for range 5 {
		h(ctx, errors.New("boom"))
	}
	if got := strings.Count(logs.String(), "memo: redis failure"); got != 1 {
		t.Fatalf("got %d records within one second, want 1:\n%s", got, logs)
	}
	now = now.Add(Every)
	h(context.Background(), errors.New("again"))
	out := logs.String()
	for _, want := range []string{"suppressed=4", "err=again", `pattern="GET /secret/{id}"`, "method=GET", "level=WARN"} {
		if !strings.Contains(out, want) {
			t.Fatalf("got %q, want it to contain %q", out, want)
		}
	}
	if strings.Contains(out, "token=abc") || strings.Contains(out, "/secret/path") {
		t.Fatalf("got the request's path or query in the log: %q", out)
	}
	if Default("x") == nil {
		t.Fatalf("got a nil handler, want the default")
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()
	if got := Request(context.Background()); got != nil {
		t.Fatalf("got %v, want nil", got)
	}
	r := httptest.NewRequest("GET", "/", nil)
	if got := Request(WithRequest(context.Background(), r)); got != r {
		t.Fatalf("got %v, want the request", got)
	}
	ctx := context.Background()
	if got := WithRequest(ctx, nil); got != ctx {
		t.Fatalf("got a new context for a nil request, want ctx as is")
	}
}
