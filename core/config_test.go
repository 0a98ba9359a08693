package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    string // substring of Config.String()
		wantErr string
	}{
		{"empty is local", nil, "environment=local addr=127.0.0.1:6379 db=0", ""},
		{"host and port", map[string]string{"REDIS_HOST": "::1", "REDIS_PORT": "7000", "REDIS_DB": "2"}, "addr=[::1]:7000 db=2", ""},
		{"url wins", map[string]string{"REDIS_URL": "redis://127.0.0.1:6390/1", "REDIS_HOST": "localhost"}, "url=redis://127.0.0.1:6390/1", ""},
		{"cluster", map[string]string{"REDIS_CLUSTER_ADDRS": "127.0.0.1:7000, 127.0.0.1:7001"}, "cluster=127.0.0.1:7000,127.0.0.1:7001", ""},
		{"production with host", map[string]string{"ENVIRONMENT": "production", "REDIS_HOST": "localhost"}, "environment=production addr=localhost:6379", ""},
		{"production without address", map[string]string{"ENVIRONMENT": "production"}, "", "REDIS_URL, REDIS_HOST"},
		{"unknown environment", map[string]string{"ENVIRONMENT": "staging"}, "", `ENVIRONMENT="staging"`},
		{"bad port", map[string]string{"REDIS_PORT": "http"}, "", "REDIS_PORT"},
		{"port out of range", map[string]string{"REDIS_PORT": "70000"}, "", "REDIS_PORT"},
		{"bad db", map[string]string{"REDIS_DB": "-1"}, "", "REDIS_DB"},
		{"bad tls", map[string]string{"REDIS_TLS": "maybe"}, "", "REDIS_TLS"},
		{"tls and user", map[string]string{"REDIS_TLS": "true", "REDIS_USERNAME": "app"}, "user=app tls=true", ""},
		{"url and cluster", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379", "REDIS_CLUSTER_ADDRS": "127.0.0.1:7000"}, "", "only one of"},
		{"cluster with db", map[string]string{"REDIS_CLUSTER_ADDRS": "127.0.0.1:7000", "REDIS_DB": "3"}, "", "database 0"},
		{"sentinel without master", map[string]string{"REDIS_SENTINEL_ADDRS": "127.0.0.1:26379"}, "", "REDIS_SENTINEL_MASTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := core.ConfigFromLookup(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !strings.Contains(cfg.String(), tt.want) {
				t.Errorf("got %q, want it to contain %q", cfg.String(), tt.want)
			}
		})
	}
}

func TestProductionErrorNamesVariables(t *testing.T) {
	t.Parallel()
	_, err := core.ConfigFromLookup(env(map[string]string{"ENVIRONMENT": "production"}))
	if !errors.Is(err, core.ErrNoAddress) {
		t.Fatalf("got %v, want ErrNoAddress", err)
	}
	_, err = core.New(core.Config{Environment: core.EnvProduction})
	if !errors.Is(err, core.ErrNoAddress) {
		t.Errorf("New: got %v, want ErrNoAddress", err)
	}
}

// TestPasswordNeverShown checks String, %v, %+v, %#v and errors.
func TestPasswordNeverShown(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pw"
	configs := []core.Config{
		{Password: secret, Username: "app"},
		{URL: "redis://app:" + secret + "@127.0.0.1:6399/0"},
		{URL: "rediss://:" + secret + "@127.0.0.1:6399"},
		{URL: "redis://app:" + secret + "@127.0.0.1:notaport/x/y"},
	}
	for i, cfg := range configs {
		for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
			if strings.Contains(s, secret) {
				t.Errorf("config %d: %q shows the password", i, s)
			}
		}
		c, err := core.New(cfg)
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("config %d: error %q shows the password", i, err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if err := c.Ping(ctx); err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("config %d: ping error %q shows the password", i, err)
		}
		cancel()
		_ = c.Close()
	}
}

func TestClientSideCacheConfig(t *testing.T) {
	t.Parallel()
	_, err := core.New(core.Config{ClientSideCache: true, ClusterAddrs: []string{"127.0.0.1:7000"}})
	if !errors.Is(err, core.ErrInvalidArgument) {
		t.Errorf("CSC with cluster: got %v, want ErrInvalidArgument", err)
	}
}

// TestClientSideCache checks that a cached read is invalidated when another
// client writes the key.
func TestClientSideCache(t *testing.T) {
	target := redistest.StandaloneTarget(t)
	if target.Embedded {
		t.Skip("client-side caching needs a real redis-server (RESP3 invalidation)")
	}
	ctx := context.Background()
	c, err := core.New(core.Config{URL: "redis://" + target.Addrs[0], ClientSideCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writer := core.NewFromRedis(redistest.NewClient(t, target))
	key := core.MakeKey(redistest.Prefix(t), "hot")
	must(t, writer.Set(ctx, key, "v1", 0))
	for range 3 {
		if v, _, err := core.GetAs[string](ctx, c, key); err != nil || v != "v1" {
			t.Fatalf("read: got %q, %v, want v1", v, err)
		}
	}
	must(t, writer.Set(ctx, key, "v2", 0))
	deadline := time.Now().Add(2 * time.Second)
	for {
		v, _, err := core.GetAs[string](ctx, c, key)
		if err != nil {
			t.Fatal(err)
		}
		if v == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cached read still %q 2s after another client wrote v2", v)
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := c.Redis().(*redis.Client); !ok {
		t.Errorf("got %T, want *redis.Client", c.Redis())
	}
}

func TestDefaultSingleton(t *testing.T) {
	target := redistest.StandaloneTarget(t)
	t.Setenv("REDIS_URL", "redis://"+target.Addrs[0])
	t.Setenv("ENVIRONMENT", "")
	t.Cleanup(func() { _ = core.ResetDefault() })
	a, err := core.Default()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := core.Default()
	if a != b {
		t.Error("Default returned two clients; want one")
	}
	if err := a.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	must(t, core.ResetDefault())
	if err := a.Ping(context.Background()); !errors.Is(err, core.ErrClosed) {
		t.Errorf("ping after ResetDefault: got %v, want ErrClosed", err)
	}
	t.Setenv("ENVIRONMENT", "production")
	t.Setenv("REDIS_URL", "")
	if _, err := core.Default(); !errors.Is(err, core.ErrNoAddress) {
		t.Errorf("Default in production without address: got %v, want ErrNoAddress", err)
	}
}
