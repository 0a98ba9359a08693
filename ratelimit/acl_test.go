package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// Every limiter works for a least-privilege ACL user, and Check names a
// missing permission at start-up.
func TestACLUserAndCheck(t *testing.T) {
	t.Parallel()
	const base = "on >pw ~rl:* ~rls:* &* +@all -@dangerous -@admin"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off",
		"user app " + base,
		"user noevalsha " + base + " -evalsha",
		"user noeval " + base + " -eval",
		"user nopexpire " + base + " -pexpire",
		"user otherkeys on >pw ~other:* &* +@all -@dangerous -@admin",
	}})
	checkTTLs(t, srv.Client(t, &redis.Options{Username: "app", Password: "pw"}), "rl") // rl:* and rls:*
	all := func(s string) map[string]string {
		return map[string]string{"fixed-batched": s, "fixed-script": s, "gcra": s, "multi": s}
	}
	cases := []struct {
		user string
		want map[string]string // per limiter: "" works, else a text the Check error holds
	}{
		{"app", all("")},
		{"noevalsha", all("evalsha")},
		{"noeval", all("'eval'")},
		{"nopexpire", map[string]string{"fixed-batched": "pexpire", "fixed-script": "pexpire", "gcra": "", "multi": "pexpire"}},
		{"otherkeys", all("no permissions to access")},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			c, err := core.New(core.Config{URL: "redis://" + tc.user + ":pw@" + srv.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			ctx := context.Background()
			for name, l := range kinds(t, c.Redis(), "rl", midWindow(time.Hour)) {
				err := l.(interface{ Check(context.Context) error }).Check(ctx)
				want := tc.want[name]
				if want == "" {
					if err != nil {
						t.Fatalf("%s Check: %v", name, err)
					}
					res, err1 := l.Allow(ctx, tc.user)
					_, err2 := l.Peek(ctx, tc.user)
					if err := errors.Join(err1, err2, l.Reset(ctx, tc.user)); err != nil || !res.Allowed {
						t.Fatalf("%s as %s: got %+v, %v, want allowed and no error", name, tc.user, res, err)
					}
					continue
				}
				if err == nil || !strings.HasPrefix(err.Error(), "ratelimit: check: ") || !strings.Contains(strings.ToLower(err.Error()), want) {
					t.Fatalf("%s Check as %s: got %v, want a \"ratelimit: check: \" error naming %s", name, tc.user, err, want)
				}
			}
		})
	}
	t.Cleanup(func() {
		left, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).Keys(context.Background(), "rl*:check:*").Result()
		if len(left) != 0 {
			t.Errorf("probe keys left by Check: got %q, want none", left)
		}
	})
}
