package bench

// memo benchmarks (issue 3): warm hits against raw go-redis GET +
// json.Unmarshal and against github.com/go-redis/cache/v9 Once; warm hits
// with L1 (client-side caching) against the network; and fn calls under a
// cross-process stampede. Sub-benchmarks are named impl=<name> so that
// `benchstat -col /impl` compares them.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// memoProfile is the cached value (~110 bytes of JSON).
type memoProfile struct {
	ID     int64    `json:"id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	Active bool     `json:"active"`
	Score  float64  `json:"score"`
}

func loadProfile(_ context.Context, id int64) (memoProfile, error) {
	return memoProfile{ID: id, Name: "Ada Lovelace", Email: "ada@example.com",
		Roles: []string{"admin", "editor"}, Active: true, Score: 97.5}, nil
}

func wrapProfile(b *testing.B, c *core.Client, ns string, fn func(context.Context, int64) (memoProfile, error), opts memo.Options) *memo.Func[int64, memoProfile] {
	opts.Namespace = ns
	f, err := memo.Wrap(c, "profile", fn, opts)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkMemoWarmHit is one read of a cached value. Goals: memo ≤ 1.15x
// raw; memo ≤ gocache.
func BenchmarkMemoWarmHit(b *testing.B) {
	ctx := context.Background()
	for _, target := range []string{"standalone", "cluster"} {
		b.Run("target="+target, func(b *testing.B) {
			var rdb redis.UniversalClient
			if target == "cluster" {
				rdb = redistest.Cluster(b)
			} else {
				rdb = redistest.Standalone(b)
			}
			ns := redistest.Prefix(b)
			want, _ := loadProfile(ctx, 42)

			rawKey := ns + ":raw:42"
			data, _ := json.Marshal(want)
			if err := rdb.Set(ctx, rawKey, data, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
			b.Run("impl=raw", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					raw, err := rdb.Get(ctx, rawKey).Bytes()
					if err != nil {
						b.Fatal(err)
					}
					var got memoProfile
					if err := json.Unmarshal(raw, &got); err != nil || got.ID != 42 {
						b.Fatalf("got %+v, %v", got, err)
					}
				}
			})

			f := wrapProfile(b, core.NewFromRedis(rdb), ns, loadProfile, memo.Options{TTL: time.Hour})
			b.Run("impl=memo", func(b *testing.B) {
				benchMemoGet(b, f)
				if st := f.Stats(); st.Loads != 1 {
					b.Fatalf("loads: got %d, want 1", st.Loads)
				}
			})

			gc := cache.New(&cache.Options{Redis: rdb})
			gcKey := ns + ":gocache:42"
			b.Run("impl=gocache", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var got memoProfile
					err := gc.Once(&cache.Item{Ctx: ctx, Key: gcKey, Value: &got, TTL: time.Hour,
						Do: func(*cache.Item) (any, error) { return loadProfile(ctx, 42) }})
					if err != nil || got.ID != 42 {
						b.Fatalf("got %+v, %v", got, err)
					}
				}
			})
		})
	}
}

func benchMemoGet(b *testing.B, f *memo.Func[int64, memoProfile]) {
	ctx := context.Background()
	if _, err := f.Get(ctx, 42); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := f.Get(ctx, 42)
		if err != nil || got.ID != 42 {
			b.Fatalf("got %+v, %v", got, err)
		}
	}
}

// BenchmarkMemoWarmHitL1 compares a warm hit answered by the client-side
// cache with one over the network (standalone). Goal: L1 ≥ 10x faster.
func BenchmarkMemoWarmHitL1(b *testing.B) {
	target := redistest.StandaloneTarget(b)
	if target.Embedded {
		b.Skip("client-side caching needs a real redis-server")
	}
	ns := redistest.Prefix(b)
	b.Run("impl=network", func(b *testing.B) {
		f := wrapProfile(b, core.NewFromRedis(redistest.NewClient(b, target)), ns, loadProfile, memo.Options{TTL: time.Hour})
		benchMemoGet(b, f)
	})
	b.Run("impl=l1", func(b *testing.B) {
		c, err := core.New(core.Config{URL: "redis://" + target.Addrs[0], ClientSideCache: true})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		f := wrapProfile(b, c, ns, loadProfile, memo.Options{TTL: time.Hour})
		if !f.L1() {
			b.Fatal("L1 is off, want on")
		}
		benchMemoGet(b, f)
	})
}

// BenchmarkMemoStampede is one cold key hit by 8 clients (standing in for 8
// processes) × 100 goroutines, with a 50 ms origin. It reports fn-calls/op:
// memo with its lease against go-redis/cache Once (in-process singleflight
// only). Goal: memo fewer.
func BenchmarkMemoStampede(b *testing.B) {
	target := redistest.StandaloneTarget(b)
	const processes, goroutines = 8, 100
	slow := func(calls *atomic.Int64) func(context.Context, int64) (memoProfile, error) {
		return func(ctx context.Context, id int64) (memoProfile, error) {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond)
			return loadProfile(ctx, id)
		}
	}
	clients := make([]redis.UniversalClient, processes)
	for i := range clients {
		clients[i] = redistest.NewClient(b, target)
	}
	b.Run("impl=memo-lease", func(b *testing.B) {
		var calls atomic.Int64
		ns := redistest.Prefix(b)
		funcs := make([]*memo.Func[int64, memoProfile], processes)
		for i, rdb := range clients {
			funcs[i] = wrapProfile(b, core.NewFromRedis(rdb), ns, slow(&calls), memo.Options{TTL: time.Hour, Lease: true})
		}
		stampede(b, &calls, processes*goroutines, func(i int, key int64) error {
			_, err := funcs[i%processes].Get(context.Background(), key)
			return err
		})
	})
	b.Run("impl=gocache", func(b *testing.B) {
		var calls atomic.Int64
		ns := redistest.Prefix(b)
		caches := make([]*cache.Cache, processes)
		for i, rdb := range clients {
			caches[i] = cache.New(&cache.Options{Redis: rdb})
		}
		load := slow(&calls)
		stampede(b, &calls, processes*goroutines, func(i int, key int64) error {
			var got memoProfile
			return caches[i%processes].Once(&cache.Item{Key: fmt.Sprintf("%s:%d", ns, key), Value: &got, TTL: time.Hour,
				Do: func(*cache.Item) (any, error) { return load(context.Background(), key) }})
		})
	})
}

// stampede runs n goroutines calling get on a fresh key per op and reports
// the wrapped function's calls per op.
func stampede(b *testing.B, calls *atomic.Int64, n int, get func(i int, key int64) error) {
	b.ReportAllocs()
	var key int64
	for b.Loop() {
		key++
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := get(i, key); err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(calls.Load())/float64(b.N), "fn-calls/op")
}

// BenchmarkMemoWarmHitPaired alternates the implementations op by op, so
// that noise from other processes on the machine hits them alike, and
// reports each one's mean ns per op plus the ratios the goals are about.
func BenchmarkMemoWarmHitPaired(b *testing.B) {
	ctx := context.Background()
	target := redistest.StandaloneTarget(b)
	if target.Embedded {
		b.Skip("needs a real redis-server")
	}
	rdb := redistest.NewClient(b, target)
	ns := redistest.Prefix(b)
	want, _ := loadProfile(ctx, 42)
	data, _ := json.Marshal(want)
	rawKey := ns + ":raw:42"
	if err := rdb.Set(ctx, rawKey, data, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	net := wrapProfile(b, core.NewFromRedis(rdb), ns, loadProfile, memo.Options{TTL: time.Hour})
	csc, err := core.New(core.Config{URL: "redis://" + target.Addrs[0], ClientSideCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer csc.Close()
	l1 := wrapProfile(b, csc, ns, loadProfile, memo.Options{TTL: time.Hour})
	// A go-redis client that honours context deadlines lets memo bound each
	// command without a goroutine per command.
	ctxRDB := redis.NewClient(&redis.Options{Addr: target.Addrs[0], ContextTimeoutEnabled: true})
	defer ctxRDB.Close()
	ctxMemo := wrapProfile(b, core.NewFromRedis(ctxRDB), ns, loadProfile, memo.Options{TTL: time.Hour})
	gc := cache.New(&cache.Options{Redis: rdb})
	impls := []struct {
		name string
		op   func() error
	}{
		{"raw", func() error {
			raw, err := rdb.Get(ctx, rawKey).Bytes()
			if err != nil {
				return err
			}
			var got memoProfile
			return json.Unmarshal(raw, &got)
		}},
		{"memo", func() error { _, err := net.Get(ctx, 42); return err }},
		{"memo-l1", func() error { _, err := l1.Get(ctx, 42); return err }},
		{"memo-ctxtimeout", func() error { _, err := ctxMemo.Get(ctx, 42); return err }},
		{"gocache", func() error {
			var got memoProfile
			return gc.Once(&cache.Item{Ctx: ctx, Key: ns + ":gocache:42", Value: &got, TTL: time.Hour,
				Do: func(*cache.Item) (any, error) { return loadProfile(ctx, 42) }})
		}},
	}
	total := make([]time.Duration, len(impls))
	for i := range impls { // warm up
		if err := impls[i].op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range impls {
			start := time.Now()
			if err := impls[i].op(); err != nil {
				b.Fatal(err)
			}
			total[i] += time.Since(start)
		}
	}
	mean := func(i int) float64 { return float64(total[i]) / float64(b.N) }
	for i := range impls {
		b.ReportMetric(mean(i), impls[i].name+"-ns/op")
	}
	b.ReportMetric(mean(1)/mean(0), "memo/raw")
	b.ReportMetric(mean(1)/mean(2), "network/l1")
	b.ReportMetric(mean(1)/mean(4), "memo/gocache")
	b.ReportMetric(mean(3)/mean(0), "memo-ctxtimeout/raw")
	b.ReportMetric(mean(3)/mean(4), "memo-ctxtimeout/gocache")
}
