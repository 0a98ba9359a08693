package main

import (
	"strings"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/examples/internal/shoptest"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestLeastPrivilege runs the whole service as an ACL user limited to the
// service's own keys and without dangerous commands: every route works. A
// user missing one permission the service needs is told so at start, with
// the command named.
func TestLeastPrivilege(t *testing.T) {
	const ns = "shop"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off",
		"user app on >app-pw ~" + ns + ":* &* +@all -@dangerous -@admin",
		"user nopfadd on >app-pw ~" + ns + ":* &* +@all -@dangerous -@admin -pfadd",
	}})
	connect := func(user string) *core.Client {
		c, err := core.New(core.Config{URL: "redis://" + user + ":app-pw@" + srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("enough", func(t *testing.T) { shoptest.Serve(t, connect("app"), ns, newHandler) })
	t.Run("missing pfadd", func(t *testing.T) {
		svc, err := shop.New(connect("nopfadd"), shoptest.Config(ns))
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close(t.Context())
		err = svc.Check(t.Context())
		if err == nil || !strings.Contains(err.Error(), "NOPERM") || !strings.Contains(strings.ToLower(err.Error()), "pfadd") {
			t.Fatalf("start-up check: got %v, want a NOPERM error naming pfadd", err)
		}
	})
}
