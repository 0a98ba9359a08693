package main

import (
	"context"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRun walks the quickstart against real Redis and checks what it prints.
func TestRun(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		var out strings.Builder
		if err := run(context.Background(), core.NewFromRedis(tc.RDB), &out); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"cache_get(quickstart:cache:user:123) = {Name:Noah Age:21}",
			"get_user(42) three times: 1 database load(s)",
			"page views of home = 5",
			"rate limit count = 3, window resets in about 1h0m0s",
			"invalidated 3 cache entries of user 123",
			"{Name:Noah Age:21 City:Oslo}",
			"purge_cache(quickstart) removed 2 key(s)",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q; got:\n%s", want, out.String())
			}
		}
	})
}
