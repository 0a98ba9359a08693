package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/budget"
)

func TestWithBudget(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	c := core.NewFromRedis(rdb)
	tests := []struct {
		name   string
		client *core.Client
		want   time.Duration // 0: no budget
	}{
		{"default", c, core.DefaultRequestBudget},
		{"configured", c.WithRequestBudget(80 * time.Millisecond), 80 * time.Millisecond},
		{"disabled", c.WithRequestBudget(-1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.client.WithBudget(context.Background())
			b := budget.From(ctx)
			if tt.want == 0 {
				if b != nil {
					t.Fatalf("got a budget of %v, want none", b.Left())
				}
				return
			}
			if b == nil || b.Left() != tt.want {
				t.Fatalf("got budget %v, want %v left", b, tt.want)
			}
			if again := c.WithBudget(ctx); again != ctx {
				t.Fatalf("got a second budget on a ctx that has one, want ctx as is")
			}
		})
	}
}

func TestRequestFromContext(t *testing.T) {
	t.Parallel()
	if r := core.RequestFromContext(context.Background()); r != nil {
		t.Fatalf("got %v, want nil", r)
	}
}
