package bench

// Core bulk benchmarks (issue 2): GetMany and SetMany against sequential
// commands and a hand-written go-redis pipeline, and the test of their round
// trips per node. Baselines are sibling sub-benchmarks impl=<name>.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

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
