package bench

// viewcount benchmarks (issue 6): buffered and direct view counting against
// the Python library's counter, one INCR per view, on the same real
// redis-server (standalone and 3-master cluster).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const (
	vcItems = 1000
	vcViews = 200_000
)

var vcSecret = []byte("bench-secret-0123456789")

// vcCounter counts what a client sends: every command, and round trips (a
// single command or a pipeline), leaving out connection setup and cluster
// bookkeeping.
type vcCounter struct{ cmds, trips atomic.Int64 }

func (h *vcCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *vcCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !vcInternal(cmd) {
			h.cmds.Add(1)
			h.trips.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *vcCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !vcInternal(cmds[0]) {
			h.cmds.Add(int64(len(cmds)))
			h.trips.Add(1)
		}
		return next(ctx, cmds)
	}
}

func vcInternal(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "cluster", "command", "hello", "client":
		return true
	}
	return false
}

// vcClient is a fresh client to target with a counting hook at client level.
func vcClient(tb testing.TB, target string) (redis.UniversalClient, *vcCounter) {
	t := redistest.StandaloneTarget(tb)
	if target == "cluster" {
		t = redistest.ClusterTarget(tb)
	}
	rdb := redistest.NewClient(tb, t)
	h := &vcCounter{}
	rdb.AddHook(h)
	return rdb, h
}

// vcWorkload is the skewed workload: item of each view, Zipf (s=1.1) over
// vcItems items; every view has its own visitor, so every view counts and
// totals must equal one INCR per view exactly.
func vcWorkload() []int {
	z := rand.NewZipf(rand.New(rand.NewPCG(6, 6)), 1.1, 1, vcItems-1)
	views := make([]int, vcViews)
	for i := range views {
		views[i] = int(z.Uint64())
	}
	return views
}

// TestViewCountCommands runs the 200,000-view Zipf workload through one INCR
// per view and through a buffered Counter, checks that the totals are
// identical, and that the Counter sends at least 50x fewer commands. It also
// checks that direct mode is one round trip per Record.
func TestViewCountCommands(t *testing.T) {
	views := vcWorkload()
	for _, target := range coreTargets {
		t.Run("target="+target, func(t *testing.T) {
			ctx := context.Background()
			prefix := redistest.Prefix(t)

			// Baseline: the Python counter, one INCR per view (pipelined 1,000
			// at a time so the test is quick; still one command per view).
			rdb, h := vcClient(t, target)
			start := time.Now()
			for lo := 0; lo < len(views); lo += 1000 {
				_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, it := range views[lo:min(lo+1000, len(views))] {
						p.Incr(ctx, fmt.Sprintf("%s:incr:{%d}", prefix, it))
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			incrCmds, incrTime := h.cmds.Load(), time.Since(start)

			// Buffered Counter, default 1 s flush interval.
			rdb2, h2 := vcClient(t, target)
			c, err := viewcount.New(core.NewFromRedis(rdb2), viewcount.Options{Secret: vcSecret,
				Namespace: prefix + ":vc", Mode: viewcount.Buffered})
			if err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			for i, it := range views {
				if err := c.Record(ctx, fmt.Sprint(it), fmt.Sprint("visitor-", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(ctx); err != nil {
				t.Fatal(err)
			}
			bufCmds, bufTime := h2.cmds.Load(), time.Since(start)

			for it := range vcItems {
				want, _ := rdb.Get(ctx, fmt.Sprintf("%s:incr:{%d}", prefix, it)).Int64()
				s, err := c.Counts(ctx, fmt.Sprint(it), 1)
				if err != nil || s.Total != want {
					t.Fatalf("item %d: got total %d, %v, want %d (INCR)", it, s.Total, err, want)
				}
			}
			ratio := float64(incrCmds) / float64(bufCmds)
			t.Logf("%d views over %d items: INCR per view %d commands (%v), buffered %d commands (%v): %.0fx fewer, totals identical",
				len(views), vcItems, incrCmds, incrTime.Round(time.Millisecond), bufCmds, bufTime.Round(time.Millisecond), ratio)
			if ratio < 50 {
				t.Errorf("got %.1fx fewer commands, want at least 50x", ratio)
			}

			// Direct mode: one round trip per Record.
			rdb3, h3 := vcClient(t, target)
			d, err := viewcount.New(core.NewFromRedis(rdb3), viewcount.Options{Secret: vcSecret, Namespace: prefix + ":direct"})
			if err != nil {
				t.Fatal(err)
			}
			_ = d.Record(ctx, "warm", "up") // loads the scripts
			h3.trips.Store(0)
			const n = 2000
			for i := range n {
				if err := d.Record(ctx, fmt.Sprint(views[i]), fmt.Sprint("v", i)); err != nil {
					t.Fatal(err)
				}
			}
			if trips := h3.trips.Load(); trips != n {
				t.Errorf("direct: got %d round trips for %d Records, want %d", trips, n, n)
			}
			t.Logf("direct: %d round trips for %d Records", h3.trips.Load(), n)
		})
	}
}

// BenchmarkViewCountRecord is one view per op: impl=incr (one INCR, the
// baseline), impl=direct (Record, one round trip with dedup, uniques, day
// bucket and three rankings), impl=buffered (Record, flushed every second
// and at the end). Parallel, Zipf items, a new visitor per op. Reports
// Redis commands per view.
func BenchmarkViewCountRecord(b *testing.B) {
	views := vcWorkload()
	for _, target := range coreTargets {
		for _, impl := range []string{"incr", "direct", "buffered"} {
			b.Run("target="+target+"/impl="+impl, func(b *testing.B) {
				ctx := context.Background()
				rdb, h := vcClient(b, target)
				prefix := redistest.Prefix(b)
				var c *viewcount.Counter
				if impl != "incr" {
					mode := map[string]viewcount.Mode{"direct": viewcount.Direct, "buffered": viewcount.Buffered}[impl]
					var err error
					c, err = viewcount.New(core.NewFromRedis(rdb), viewcount.Options{Secret: vcSecret, Namespace: prefix, Mode: mode})
					if err != nil {
						b.Fatal(err)
					}
					_ = c.Record(ctx, "warm", "up")
					_ = c.Flush(ctx)
				}
				h.cmds.Store(0)
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := seq.Add(1)
						it := views[int(i)%len(views)]
						var err error
						if c == nil {
							err = rdb.Incr(ctx, fmt.Sprintf("%s:{%d}", prefix, it)).Err()
						} else {
							err = c.Record(ctx, fmt.Sprint(it), fmt.Sprint("v", i))
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				if c != nil {
					if err := c.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(h.cmds.Load())/float64(b.N), "cmds/view")
			})
		}
	}
}

// BenchmarkViewCountFlush is one buffered flush per op, of 100 views of 10
// items by new visitors, on a master with one replica: durable=off (the
// master acknowledges) and durable=on (Options.WaitReplicas 1: the flush
// pipeline ends with WAIT 1, so the flush also waits for the replica's
// acknowledgement). Recording is not timed.
func BenchmarkViewCountFlush(b *testing.B) {
	master := redistest.StartServer(b, redistest.ServerOptions{})
	replica := redistest.StartServer(b, redistest.ServerOptions{})
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(master.Addr())
	mc, rc := master.Client(b, nil), replica.Client(b, nil)
	if err := rc.ReplicaOf(ctx, host, port).Err(); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ri, _ := rc.Info(ctx, "replication").Result()
		mi, _ := mc.Info(ctx, "replication").Result()
		if strings.Contains(ri, "master_link_status:up") && strings.Contains(mi, "connected_slaves:1") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("replica not in sync after 10s")
		}
	}
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprintf("durable=%s", map[bool]string{false: "off", true: "on"}[durable]), func(b *testing.B) {
			o := viewcount.Options{Secret: vcSecret, Namespace: redistest.Prefix(b), Mode: viewcount.Buffered,
				FlushInterval: time.Hour}
			if durable {
				o.WaitReplicas = 1
			}
			c, err := viewcount.New(core.NewFromRedis(mc), o)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Close(ctx) }()
			_ = c.Record(ctx, "warm", "up")
			_ = c.Flush(ctx)
			seq := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for range 100 {
					seq++
					if err := c.Record(ctx, strconv.Itoa(seq%10), "v"+strconv.Itoa(seq)); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if err := c.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
