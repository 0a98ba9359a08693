package ratelimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// Limiters of one kind share counters exactly when prefix, policy name and
// window agree: per-route limiters with the default prefix stay apart.
func TestLimitersShareStateOnlyWithSamePolicyAndWindow(t *testing.T) {
	t.Parallel()
	type spec struct {
		policy string
		window time.Duration
	}
	build := map[string]func(rdb redis.UniversalClient, prefix string, s spec, clk *clock) (ratelimit.Limiter, error){
		"fixed": func(rdb redis.UniversalClient, prefix string, s spec, clk *clock) (ratelimit.Limiter, error) {
			return ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 10, Window: s.window,
				Namespace: prefix, Policy: s.policy, Now: clk.Now, Timeout: 10 * time.Second})
		},
		"fixed-script": func(rdb redis.UniversalClient, prefix string, s spec, clk *clock) (ratelimit.Limiter, error) {
			l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 10, Window: s.window,
				Namespace: prefix, Policy: s.policy, Now: clk.Now, Timeout: 10 * time.Second})
			if l != nil {
				ratelimit.ForceScript(l)
			}
			return l, err
		},
		"multi": func(rdb redis.UniversalClient, prefix string, s spec, clk *clock) (ratelimit.Limiter, error) {
			return ratelimit.NewMulti(core.NewFromRedis(rdb), ratelimit.Options{Namespace: prefix, Now: clk.Now,
				Timeout: 10 * time.Second, Policies: []ratelimit.Policy{{Name: s.policy, Limit: 10, Window: s.window}}})
		},
		"gcra": func(rdb redis.UniversalClient, prefix string, s spec, clk *clock) (ratelimit.Limiter, error) {
			return ratelimit.NewGCRA(core.NewFromRedis(rdb), ratelimit.Options{Limit: 10, Window: s.window,
				Namespace: prefix, Policy: s.policy, Now: clk.Now, Timeout: 10 * time.Second})
		},
	}
	cases := []struct {
		name       string
		a, b       spec
		wantShared bool
	}{
		{"same policy and window", spec{"api", time.Hour}, spec{"api", time.Hour}, true},
		{"other policy", spec{"api", time.Hour}, spec{"login", time.Hour}, false},
		{"other window", spec{"default", time.Hour}, spec{"default", 2 * time.Hour}, false},
	}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		checkTTLs(t, tc.RDB, tc.Prefix)
		ctx := context.Background()
		for kind, mk := range build {
			for _, c := range cases {
				clk := midWindow(2 * time.Hour)
				prefix := tc.Prefix + ":" + kind + "-" + strings.ReplaceAll(c.name, " ", "-")
				a, errA := mk(tc.RDB, prefix, c.a, clk)
				b, errB := mk(tc.RDB, prefix, c.b, clk)
				if errA != nil || errB != nil {
					t.Fatal(errA, errB)
				}
				for range 3 {
					if res, err := a.Allow(ctx, "ip:192.0.2.1"); err != nil || !res.Allowed {
						t.Fatalf("%s %s: a: got %+v, %v, want allowed", kind, c.name, res, err)
					}
				}
				res, err := b.Peek(ctx, "ip:192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				want := 10
				if c.wantShared {
					want = 7
				}
				if res.Remaining != want {
					t.Errorf("%s %s: b sees %d remaining after 3 hits on a, want %d", kind, c.name, res.Remaining, want)
				}
			}
		}
	})
}

// KeyByHeader keeps the header's value (an API key) out of Redis keys and
// out of Decision.Key: only a digest of the header name and value is used.
func TestKeyByHeaderHidesTheValue(t *testing.T) {
	t.Parallel()
	const secret = "sk_live_0123456789abcdef"
	digest := func(name, value string) string {
		sum := sha256.Sum256([]byte(name + "\x00" + value))
		return "hdr:" + hex.EncodeToString(sum[:])[:32]
	}
	key := func(name, value string) string {
		r := request("192.0.2.1:1")
		r.Header.Set(name, value)
		k, err := ratelimit.KeyByHeader(name)(r)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := key("x-api-key", secret)
	if k != digest("X-Api-Key", secret) || strings.Contains(k, secret) {
		t.Errorf("got %q, want %q (the digest, no secret)", k, digest("X-Api-Key", secret))
	}
	if k2 := key("X-Other-Key", secret); k2 == k {
		t.Errorf("same value under another header: got the same key %q, want another", k2)
	}
	if k3 := key("X-Api-Key", secret+"x"); k3 == k {
		t.Errorf("another value: got the same key %q, want another", k3)
	}

	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	var mu sync.Mutex
	var seen []string
	l := newFixed(t, rdb, ratelimit.Options{Namespace: prefix, Now: midWindow(time.Minute).Now,
		OnDecision: func(d ratelimit.Decision) { mu.Lock(); seen = append(seen, d.Key); mu.Unlock() }}, false)
	if _, err := l.Allow(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	keys := 0
	err := forEachKey(rdb, prefix, func(_ *redis.Client, rk string) {
		keys++
		if strings.Contains(rk, secret) {
			t.Errorf("Redis key %q holds the header value", rk)
		}
	})
	if err != nil || keys != 1 {
		t.Fatalf("keys under the prefix: got %d (%v), want 1", keys, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, dk := range seen {
		if strings.Contains(dk, secret) {
			t.Errorf("Decision.Key %q holds the header value", dk)
		}
	}
}

// The local deny cache holds at most DenyCacheSize keys, even when the
// size is below its shard count.
func TestDenyCacheSizeIsABound(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	checkTTLs(t, rdb, prefix)
	const size = 3
	l := newFixed(t, rdb, ratelimit.Options{Limit: 1, Window: time.Hour, Namespace: prefix, DenyCacheSize: size,
		Now: midWindow(time.Hour).Now}, false)
	ctx := context.Background()
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = "client-" + strings.Repeat("x", i)
		for range 2 { // allowed, then denied by Redis: a candidate for the cache
			if _, err := l.Allow(ctx, ids[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	local := 0
	for _, id := range ids {
		res, err := l.Allow(ctx, id)
		if err != nil || res.Allowed {
			t.Fatalf("%s: got %+v, %v, want denied", id, res, err)
		}
		if res.Local {
			local++
		}
	}
	if local < 1 || local > size {
		t.Errorf("denials answered locally: got %d, want 1..%d (the cache's size)", local, size)
	}
}
