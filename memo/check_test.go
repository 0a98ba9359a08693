package memo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// TestCheckOnEveryTarget runs Check on standalone and cluster: it passes
// and leaves no probe key behind.
func TestCheckOnEveryTarget(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		f, err := memo.Wrap(c, "check", func(context.Context, int) (string, error) { return "v", nil }, memo.Options{Namespace: tc.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Check(ctx); err != nil {
			t.Fatalf("Check: got %v, want nil", err)
		}
		keys, err := c.FindKeys(ctx, core.EscapeGlob(tc.Prefix)+":check:check:*", 10)
		if err != nil || len(keys) != 0 {
			t.Errorf("probe keys left: got %q, %v, want none", keys, err)
		}
	})
}

// TestCheck runs Check as a least-privilege ACL user (keys limited to the
// memo namespace, no dangerous commands): it passes, leaves no key behind
// and does not touch the generation; a user without INCR (which only the
// generation's scripts send) or DEL (only the lease release script) is told
// so, with the command named.
func TestCheck(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off",
		"user app on >pw ~memo:* +@all -@dangerous -@admin",
		"user noincr on >pw ~memo:* +@all -@dangerous -@admin -incr",
		"user nodel on >pw ~memo:* +@all -@dangerous -@admin -del",
	}})
	tests := []struct {
		user    string
		wantErr string
	}{
		{"app", ""},
		{"noincr", "incr"}, // the generation's scripts
		{"nodel", "del"},   // only releaseScript sends it
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			ctx := context.Background()
			c, err := core.New(core.Config{URL: "redis://" + tt.user + ":pw@" + srv.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f, err := memo.Wrap(c, "user", func(context.Context, int) (string, error) { return "v", nil }, memo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = f.Check(ctx)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: got %v, want nil", err)
				}
				if v, err := f.Get(ctx, 1); err != nil || v != "v" {
					t.Fatalf("Get after Check: got %q, %v, want v", v, err)
				}
				gen, _ := c.Redis().Get(ctx, "memo:user:gen").Result()
				if err := f.Check(ctx); err != nil {
					t.Fatalf("second Check: %v", err)
				}
				if after, _ := c.Redis().Get(ctx, "memo:user:gen").Result(); after != gen || gen == "" {
					t.Errorf("generation: got %q after Check, want %q unchanged", after, gen)
				}
				keys, err := c.FindKeys(ctx, "memo:user:check:*", 10)
				if err != nil || len(keys) != 0 {
					t.Errorf("probe keys left: got %q, %v, want none", keys, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "NOPERM") || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
				t.Errorf("Check: got %v, want a NOPERM error naming %s", err, tt.wantErr)
			}
		})
	}
}
