package bench

// Core benchmarks (issue 2): rediskit's core.Client against raw go-redis on
// the same real redis-server. Every benchmark has its baseline as a sibling
// sub-benchmark named impl=<name>, so `benchstat -col /impl` compares them.

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
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

// coreBulkSize is the number of keys of the bulk benchmarks.
const coreBulkSize = 1000

// coreBulkData returns coreBulkSize keys under prefix and a value for each.
func coreBulkData(prefix string) ([]string, map[string]any) {
	keys := make([]string, coreBulkSize)
	values := make(map[string]any, coreBulkSize)
	for i := range keys {
		keys[i] = prefix + ":bulk:" + strconv.Itoa(i)
		p := coreSample
		p.ID = int64(i)
		values[keys[i]] = p
	}
	return keys, values
}

// coreBulkImpl is one way of reading or writing the bulk keys.
type coreBulkImpl struct {
	name string
	run  func(ctx context.Context, rdb redis.UniversalClient, c *core.Client, keys []string, values map[string]any) (int, error)
}

// BenchmarkGetMany reads 1,000 existing keys: 1,000 sequential GETs, a
// hand-written go-redis pipeline of GETs, and rediskit's GetMany. Goal:
// GetMany ≥ 20x faster than sequential, in one round trip on standalone and
// at most one per master on the cluster (reported as roundtrips/op).
func BenchmarkGetMany(b *testing.B) {
	coreBenchBulk(b, true, []coreBulkImpl{
		{"sequential", func(ctx context.Context, rdb redis.UniversalClient, _ *core.Client, keys []string, _ map[string]any) (int, error) {
			out := make(map[string][]byte, len(keys))
			for _, k := range keys {
				v, err := rdb.Get(ctx, k).Bytes()
				if err != nil {
					return 0, err
				}
				out[k] = v
			}
			return len(out), nil
		}},
		{"pipeline", func(ctx context.Context, rdb redis.UniversalClient, _ *core.Client, keys []string, _ map[string]any) (int, error) {
			cmds := make([]*redis.StringCmd, len(keys))
			if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			}); err != nil {
				return 0, err
			}
			out := make(map[string][]byte, len(keys))
			for i, cmd := range cmds {
				v, _ := cmd.Bytes()
				out[keys[i]] = v
			}
			return len(out), nil
		}},
		{"rediskit", func(ctx context.Context, _ redis.UniversalClient, c *core.Client, keys []string, _ map[string]any) (int, error) {
			out, err := c.GetMany(ctx, keys)
			return len(out), err
		}},
	})
}

// BenchmarkSetMany writes 1,000 small structs with a TTL: 1,000 sequential
// SETs (json.Marshal by hand), a hand-written go-redis pipeline, and
// rediskit's SetMany. Goal as for GetMany.
func BenchmarkSetMany(b *testing.B) {
	coreBenchBulk(b, false, []coreBulkImpl{
		{"sequential", func(ctx context.Context, rdb redis.UniversalClient, _ *core.Client, _ []string, values map[string]any) (int, error) {
			for k, v := range values {
				data, err := json.Marshal(v)
				if err != nil {
					return 0, err
				}
				if err := rdb.Set(ctx, k, data, time.Hour).Err(); err != nil {
					return 0, err
				}
			}
			return len(values), nil
		}},
		{"pipeline", func(ctx context.Context, rdb redis.UniversalClient, _ *core.Client, _ []string, values map[string]any) (int, error) {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for k, v := range values {
					data, err := json.Marshal(v)
					if err != nil {
						return err
					}
					p.Set(ctx, k, data, time.Hour)
				}
				return nil
			})
			return len(values), err
		}},
		{"rediskit", func(ctx context.Context, _ redis.UniversalClient, c *core.Client, _ []string, values map[string]any) (int, error) {
			return len(values), c.SetMany(ctx, values, time.Hour)
		}},
	})
}

// coreBenchBulk runs impls on both targets, reporting round trips per op and
// failing when rediskit needs more than one round trip per node.
func coreBenchBulk(b *testing.B, read bool, impls []coreBulkImpl) {
	ctx := context.Background()
	for _, target := range coreTargets {
		b.Run("target="+target, func(b *testing.B) {
			rdb, rt := coreCountingClient(b, target)
			c := core.NewFromRedis(rdb)
			keys, values := coreBulkData(redistest.Prefix(b))
			if err := c.SetMany(ctx, values, time.Hour); err != nil {
				b.Fatal(err)
			}
			for _, impl := range impls {
				b.Run("impl="+impl.name, func(b *testing.B) {
					b.ReportAllocs()
					rt.reset()
					defer coreReportCPU(b, coreCPU())
					ops := 0
					for b.Loop() {
						n, err := impl.run(ctx, rdb, c, keys, values)
						if err != nil || n != coreBulkSize {
							b.Fatalf("got %d keys, %v; want %d", n, err, coreBulkSize)
						}
						ops++
					}
					total, perNode := rt.snapshot()
					b.ReportMetric(float64(total)/float64(ops), "roundtrips/op")
					if impl.name == "rediskit" && coreMaxNode(perNode) > int64(ops) {
						b.Errorf("got %v round trips per node in %d ops, want at most one per node per op", perNode, ops)
					}
				})
			}
		})
	}
}

// TestCoreBulkRoundTrips proves the round-trip goal of GetMany and SetMany:
// exactly one pipeline on standalone, and on the cluster one per master.
func TestCoreBulkRoundTrips(t *testing.T) {
	t.Parallel()
	for _, target := range coreTargets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb, rt := coreCountingClient(t, target)
			c := core.NewFromRedis(rdb)
			keys, values := coreBulkData(redistest.Prefix(t))
			masters := 1
			if cc, ok := rdb.(*redis.ClusterClient); ok {
				var mu sync.Mutex
				masters = 0
				if err := cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error {
					mu.Lock()
					masters++
					mu.Unlock()
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"SetMany", func() error { return c.SetMany(ctx, values, time.Hour) }},
				{"GetMany", func() error {
					got, err := c.GetMany(ctx, keys)
					if err == nil && len(got) != len(keys) {
						return fmt.Errorf("got %d keys, want %d", len(got), len(keys))
					}
					return err
				}},
			} {
				// The first call also dials and handshakes (HELLO, CLIENT
				// SETINFO): connection setup, not the operation's round trips.
				if err := op.run(); err != nil {
					t.Fatalf("%s warm-up: %v", op.name, err)
				}
				rt.reset()
				if err := op.run(); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				total, perNode := rt.snapshot()
				if coreMaxNode(perNode) != 1 || total != int64(masters) {
					t.Errorf("%s: got round trips per node %v (total %d), want 1 on each of %d masters", op.name, perNode, total, masters)
				}
			}
		})
	}
}

// coreRoundTrips counts round trips per node: each pipeline sent to a node
// is one, and so is each single command, except go-redis' own CLUSTER
// topology queries. A new connection's handshake counts too, so callers warm
// the connections up before they reset the counts.
type coreRoundTrips struct {
	mu    sync.Mutex
	nodes map[string]*atomic.Int64
}

func (r *coreRoundTrips) hook(addr string) redis.Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[addr]
	if n == nil {
		n = new(atomic.Int64)
		r.nodes[addr] = n
	}
	return coreRTHook{n}
}

func (r *coreRoundTrips) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nodes {
		n.Store(0)
	}
}

// snapshot returns the total and the per-node counts of nodes that saw any.
func (r *coreRoundTrips) snapshot() (int64, map[string]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var total int64
	per := make(map[string]int64)
	for addr, n := range r.nodes {
		if v := n.Load(); v > 0 {
			per[addr] = v
			total += v
		}
	}
	return total, per
}

func coreMaxNode(per map[string]int64) int64 {
	var m int64
	for _, v := range per {
		m = max(m, v)
	}
	return m
}

type coreRTHook struct{ n *atomic.Int64 }

func (h coreRTHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h coreRTHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "cluster" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h coreRTHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// coreCountingClient opens a client whose node connections count round
// trips. On the cluster every node client gets its own counter.
func coreCountingClient(tb testing.TB, target string) (redis.UniversalClient, *coreRoundTrips) {
	rt := &coreRoundTrips{nodes: make(map[string]*atomic.Int64)}
	if target == "cluster" {
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: redistest.ClusterTarget(tb).Addrs,
			NewClient: func(o *redis.Options) *redis.Client {
				node := redis.NewClient(o)
				node.AddHook(rt.hook(o.Addr))
				return node
			},
		})
		tb.Cleanup(func() { _ = cc.Close() })
		return cc, rt
	}
	rdb, ok := redistest.Standalone(tb).(*redis.Client)
	if !ok {
		tb.Fatalf("got %T from redistest.Standalone, want *redis.Client", rdb)
	}
	rdb.AddHook(rt.hook(rdb.Options().Addr))
	return rdb, rt
}

// The invalidation benchmark: coreInvMatched keys match the pattern among
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
