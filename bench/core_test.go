package bench

// Core benchmarks (issue 2): rediskit's core.Client against raw go-redis on
// the same real redis-server. Every benchmark has its baseline as a sibling
// sub-benchmark named impl=<name>, so `benchstat -col /impl` compares them.

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// coreProfile is the small struct of the Set/Get benchmark (~110 bytes of
// JSON).
type coreProfile struct {
	ID     int64    `json:"id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	Active bool     `json:"active"`
	Score  float64  `json:"score"`
}

var coreSample = coreProfile{
	ID: 42, Name: "Ada Lovelace", Email: "ada@example.com",
	Roles: []string{"admin", "editor"}, Active: true, Score: 97.5,
}

var coreTargets = []string{"standalone", "cluster"}

// coreOpen returns a plain client to the shared standalone server or cluster.
func coreOpen(tb testing.TB, target string) redis.UniversalClient {
	if target == "cluster" {
		return redistest.Cluster(tb)
	}
	return redistest.Standalone(tb)
}

// coreCPU returns the CPU time (user + system) the benchmark process has
// used so far. Unlike ns/op it excludes time spent waiting for Redis or for
// the CPU while other processes run, so it isolates the client-side cost.
func coreCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// coreReportCPU reports the process CPU time per op since start as
// cpu-ns/op. Call it deferred, after the b.Loop loop has set b.N.
func coreReportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(coreCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkSetGet is one Set plus one Get (decoded into a struct) per op:
// rediskit's Set/Get against go-redis Set/Get with encoding/json by hand.
// Goal: rediskit ≤ 1.10x the time and ≤ 2 more allocs/op. cpu-ns/op is the
// client process's CPU per op, the cost rediskit can add.
func BenchmarkSetGet(b *testing.B) {
	ctx := context.Background()
	for _, target := range coreTargets {
		b.Run("target="+target, func(b *testing.B) {
			rdb := coreOpen(b, target)
			c := core.NewFromRedis(rdb)
			key := redistest.Prefix(b) + ":profile"
			b.Run("impl=raw", func(b *testing.B) {
				b.ReportAllocs()
				defer coreReportCPU(b, coreCPU())
				for b.Loop() {
					data, err := json.Marshal(coreSample)
					if err != nil {
						b.Fatal(err)
					}
					if err := rdb.Set(ctx, key, data, time.Hour).Err(); err != nil {
						b.Fatal(err)
					}
					raw, err := rdb.Get(ctx, key).Bytes()
					if err != nil {
						b.Fatal(err)
					}
					var got coreProfile
					if err := json.Unmarshal(raw, &got); err != nil || got.ID != coreSample.ID {
						b.Fatalf("got %+v, %v; want %+v", got, err, coreSample)
					}
				}
			})
			b.Run("impl=rediskit", func(b *testing.B) {
				b.ReportAllocs()
				defer coreReportCPU(b, coreCPU())
				for b.Loop() {
					if err := c.Set(ctx, key, coreSample, time.Hour); err != nil {
						b.Fatal(err)
					}
					var got coreProfile
					if found, err := c.Get(ctx, key, &got); err != nil || !found || got.ID != coreSample.ID {
						b.Fatalf("got %+v, found %v, %v; want %+v", got, found, err, coreSample)
					}
				}
			})
		})
	}
}
