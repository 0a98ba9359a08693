package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// limiters builds one of each limiter over rdb with the default timeout.
func limiters(t *testing.T, rdb redis.UniversalClient) map[string]ratelimit.Limiter {
	t.Helper()
	c := core.NewFromRedis(rdb)
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{})
	fs, err2 := ratelimit.NewFixedWindow(c, ratelimit.Options{})
	ratelimit.ForceScript(fs)
	g, err3 := ratelimit.NewGCRA(c, ratelimit.GCRAOptions{})
	m, err4 := ratelimit.NewMulti(c, ratelimit.MultiOptions{Policies: []ratelimit.Policy{{Name: "a", Limit: 1, Window: time.Second}}})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return map[string]ratelimit.Limiter{"fixed": fw, "fixed-script": fs, "gcra": g, "multi": m}
}

func TestRedisStoppedReturnsError(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1})
	lims := limiters(t, rdb)
	ctx := context.Background()
	for name, l := range lims {
		if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
			t.Fatalf("%s before stop: got %+v, %v, want allowed", name, res, err)
		}
	}
	srv.Stop()
	for name, l := range lims {
		start := time.Now()
		res, err := l.Allow(ctx, "k")
		if err == nil || res.Allowed {
			t.Errorf("%s: got %+v, %v, want an error and not allowed", name, res, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: got an answer after %v, want well under 1s", name, d)
		}
	}
}

func TestSlowRedisTimesOut(t *testing.T) {
	t.Parallel()
	rdb0 := redistest.Standalone(t)
	if redistest.StandaloneTarget(t).Embedded {
		t.Skip("needs a real server behind the proxy")
	}
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	_ = rdb0
	lims := limiters(t, rdb)
	ctx := context.Background()
	for name, l := range lims {
		if _, err := l.Allow(ctx, redistest.Prefix(t)); err != nil {
			t.Fatalf("%s before blackhole: %v", name, err)
		}
	}
	p.Blackhole()
	for name, l := range lims {
		start := time.Now()
		_, err := l.Allow(ctx, redistest.Prefix(t))
		d := time.Since(start)
		if !errors.Is(err, ratelimit.ErrTimeout) {
			t.Errorf("%s: got %v, want ErrTimeout", name, err)
		}
		if d < ratelimit.DefaultTimeout || d > 10*ratelimit.DefaultTimeout {
			t.Errorf("%s: gave up after %v, want about %v", name, d, ratelimit.DefaultTimeout)
		}
	}
	p.Restore()
}
