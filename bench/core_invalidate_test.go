package bench

// Core invalidation benchmark (issue 2): InvalidatePattern against a naive
// SCAN + DEL loop (impl=naive, the baseline) on a dedicated server.

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// The invalidation benchmark: the matched keys match the pattern among
// coreInvTotal keys on a dedicated server, so no other data interferes.
const (
	coreInvTotal   = 500_000
	coreInvPattern = "inv:hit:*"
	coreInvValue   = `{"cached":"response body 0123"}`
)

// BenchmarkInvalidatePattern deletes the keys matching a pattern (20,000 or
// 100,000 of 500,000): a naive loop (SCAN COUNT 10, one DEL per key) against
// rediskit's InvalidatePattern. The matching keys are written again before
// each op, outside the timer. peak-heap-B is the highest heap in use
// (HeapInuse, sampled every millisecond) during an op and
// peak-heap-growth-B its rise over the heap measured just before; neither
// should grow with the number of keys removed. Goal: ≥ 10x faster.
func BenchmarkInvalidatePattern(b *testing.B) {
	ctx := context.Background()
	srv := redistest.StartServer(b, redistest.ServerOptions{})
	rdb := srv.Client(b, nil)
	c := core.NewFromRedis(rdb)
	background := 0 // keys inv:bg:0..background-1 exist
	for _, matched := range []int{20_000, 100_000} {
		name := fmt.Sprintf("remove=%d/total=%d", matched, coreInvTotal)
		b.Run(name, func(b *testing.B) {
			want := coreInvTotal - matched
			if want > background {
				coreFill(ctx, b, rdb, "inv:bg:", background, want)
			} else if want < background {
				coreUnlinkRange(ctx, b, rdb, "inv:bg:", want, background)
			}
			background = want
			for _, impl := range []struct {
				name string
				run  func(context.Context) (int64, error)
			}{
				{"naive", func(ctx context.Context) (int64, error) { return coreNaiveInvalidate(ctx, rdb, coreInvPattern) }},
				{"rediskit", func(ctx context.Context) (int64, error) { return c.InvalidatePattern(ctx, coreInvPattern) }},
			} {
				b.Run("impl="+impl.name, func(b *testing.B) {
					coreBenchInvalidate(ctx, b, rdb, matched, impl.run)
				})
			}
		})
	}
}

func coreBenchInvalidate(ctx context.Context, b *testing.B, rdb *redis.Client, matched int, run func(context.Context) (int64, error)) {
	b.ReportAllocs()
	var peak, growth uint64
	for range b.N {
		b.StopTimer()
		coreFill(ctx, b, rdb, "inv:hit:", 0, matched)
		runtime.GC()
		s := coreStartHeapSampler()
		b.StartTimer()
		n, err := run(ctx)
		b.StopTimer()
		p, base := s.stop()
		peak, growth = max(peak, p), max(growth, p-min(p, base))
		if err != nil || n != int64(matched) {
			b.Fatalf("got %d deleted, %v; want %d", n, err, matched)
		}
		if size, err := rdb.DBSize(ctx).Result(); err != nil || size != int64(coreInvTotal-matched) {
			b.Fatalf("got DBSIZE %d, %v; want %d", size, err, coreInvTotal-matched)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(growth), "peak-heap-growth-B")
}

// coreNaiveInvalidate is the loop the issue compares against: SCAN with
// COUNT 10 and one DEL per matching key.
func coreNaiveInvalidate(ctx context.Context, rdb *redis.Client, pattern string) (int64, error) {
	var deleted int64
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 10).Result()
		if err != nil {
			return deleted, err
		}
		for _, k := range keys {
			n, err := rdb.Del(ctx, k).Result()
			if err != nil {
				return deleted, err
			}
			deleted += n
		}
		if next == 0 {
			return deleted, nil
		}
		cursor = next
	}
}

// coreFill writes keys prefix+i for i in [from, to) with pipelined MSETs of
// 1,000 keys each, 50 MSETs per pipeline.
func coreFill(ctx context.Context, tb testing.TB, rdb *redis.Client, prefix string, from, to int) {
	coreBatches(ctx, tb, rdb, from, to, func(p redis.Pipeliner, lo, hi int) {
		args := make([]any, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			args = append(args, prefix+strconv.Itoa(i), coreInvValue)
		}
		p.MSet(ctx, args...)
	})
}

// coreUnlinkRange deletes keys prefix+i for i in [from, to).
func coreUnlinkRange(ctx context.Context, tb testing.TB, rdb *redis.Client, prefix string, from, to int) {
	coreBatches(ctx, tb, rdb, from, to, func(p redis.Pipeliner, lo, hi int) {
		keys := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			keys = append(keys, prefix+strconv.Itoa(i))
		}
		p.Unlink(ctx, keys...)
	})
}

// coreBatches calls add for [from, to) in batches of 1,000 and sends them 50
// to a pipeline.
func coreBatches(ctx context.Context, tb testing.TB, rdb *redis.Client, from, to int, add func(p redis.Pipeliner, lo, hi int)) {
	const batch, perPipe = 1000, 50
	for lo := from; lo < to; lo += batch * perPipe {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for s := lo; s < min(to, lo+batch*perPipe); s += batch {
				add(p, s, min(to, s+batch))
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// coreHeapSampler records the highest heap in use (HeapInuse, read through
// runtime/metrics, which does not stop the world) every millisecond until
// stop.
type coreHeapSampler struct {
	quit chan struct{}
	done chan [2]uint64
}

func coreStartHeapSampler() *coreHeapSampler {
	s := &coreHeapSampler{quit: make(chan struct{}), done: make(chan [2]uint64, 1)}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	base := read()
	started := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		peak := base
		close(started)
		for {
			select {
			case <-t.C:
				peak = max(peak, read())
			case <-s.quit:
				s.done <- [2]uint64{max(peak, read()), base}
				return
			}
		}
	}()
	<-started
	return s
}

// stop ends sampling and returns the peak and the heap in use at the start.
func (s *coreHeapSampler) stop() (peak, base uint64) {
	close(s.quit)
	r := <-s.done
	return r[0], r[1]
}
