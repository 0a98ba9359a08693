package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rediskit/rediskit/internal/lease"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// One holder at a time; Release only with the holder's token, deleting the
// lease or leaving a marker.
func TestTakeRelease(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		marker     string
		wantHeld   string // after release
		wantRetake bool
	}{
		{"delete", "", "", true},
		{"marker", "pass", "pass", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, c redistest.Case) {
				ctx := context.Background()
				key := c.Prefix + ":lease:{k}"
				tok, err := lease.Take(ctx, c.RDB, key, time.Minute)
				if err != nil || tok == "" {
					t.Fatalf("Take: got (%q, %v), want a token", tok, err)
				}
				if other, err := lease.Take(ctx, c.RDB, key, time.Minute); other != "" || err != nil {
					t.Fatalf("second Take: got (%q, %v), want (\"\", nil)", other, err)
				}
				if held, _ := lease.Held(ctx, c.RDB, key); held != tok {
					t.Fatalf("Held: got %q, want the token %q", held, tok)
				}
				if ok, err := lease.Release(ctx, c.RDB, key, "not-the-token", tc.marker, time.Minute); ok || err != nil {
					t.Fatalf("Release with a foreign token: got (%v, %v), want (false, nil)", ok, err)
				}
				if ok, err := lease.Release(ctx, c.RDB, key, tok, tc.marker, time.Minute); !ok || err != nil {
					t.Fatalf("Release: got (%v, %v), want (true, nil)", ok, err)
				}
				if held, _ := lease.Held(ctx, c.RDB, key); held != tc.wantHeld {
					t.Fatalf("Held after Release: got %q, want %q", held, tc.wantHeld)
				}
				again, err := lease.Take(ctx, c.RDB, key, time.Minute)
				if (again != "") != tc.wantRetake || err != nil {
					t.Fatalf("Take after Release: got (%q, %v), want taken %v", again, err, tc.wantRetake)
				}
			})
		})
	}
}

// A lease whose holder never releases it expires after its TTL.
func TestExpires(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	ctx := context.Background()
	key := redistest.Prefix(t) + ":lease"
	if tok, _ := lease.Take(ctx, rdb, key, 50*time.Millisecond); tok == "" {
		t.Fatal("Take: got no token")
	}
	redistest.Eventually(t, 2*time.Second, "lease taken again after its holder's TTL", func() bool {
		tok, err := lease.Take(ctx, rdb, key, time.Minute)
		return err == nil && tok != ""
	})
}

func TestPoll(t *testing.T) {
	t.Parallel()
	errTry := errors.New("try failed")
	cases := []struct {
		name         string
		wait         time.Duration
		doneAt       int // try call that reports done; 0: never
		err          error
		wantTimedOut bool
		wantTries    int
	}{
		{"done", time.Minute, 3, nil, false, 3},
		{"error", time.Minute, 0, errTry, false, 1},
		{"times out", 120 * time.Millisecond, 0, nil, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tries := 0
			start := time.Now()
			timedOut, err := lease.Poll(context.Background(), tc.wait, func() (bool, error) {
				tries++
				return tries == tc.doneAt, tc.err
			})
			if timedOut != tc.wantTimedOut || !errors.Is(err, tc.err) {
				t.Fatalf("Poll: got (%v, %v), want (%v, %v)", timedOut, err, tc.wantTimedOut, tc.err)
			}
			if tc.wantTries > 0 && tries != tc.wantTries {
				t.Fatalf("tries: got %d, want %d", tries, tc.wantTries)
			}
			if tc.wantTimedOut {
				if took := time.Since(start); took < tc.wait || tries < 3 {
					t.Fatalf("timed out after %v and %d tries, want at least %v and 3 tries", took, tries, tc.wait)
				}
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lease.Poll(ctx, time.Minute, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll with a cancelled ctx: got %v, want context.Canceled", err)
	}
}
