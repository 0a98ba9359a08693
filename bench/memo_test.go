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
// raw; memo ≤ gocache. Like with like: raw and memo share one go-redis
// client (redistest.NewClient: ContextTimeoutEnabled, as core.New sets it),
// read the same value type from the same server, and raw decodes the value
// alone with encoding/json, as memo does by default. go-redis/cache runs as
// a user would set it up: cache.New with only Redis (its default msgpack
// codec, no local cache), on that same client. cpu-ns/op is the process CPU
// per op (getrusage), the client-side cost, less sensitive to other load
// than sec/op.
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
				defer coreReportCPU(b, coreCPU())
				for b.Loop() {
					if err := rawGetProfile(ctx, rdb, rawKey); err != nil {
						b.Fatal(err)
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
				defer coreReportCPU(b, coreCPU())
				for b.Loop() {
					if err := gocacheGetProfile(ctx, gc, gcKey); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// rawGetProfile is the baseline hit: GET and json.Unmarshal of the value
// alone, as memo decodes it by default.
func rawGetProfile(ctx context.Context, rdb redis.UniversalClient, key string) error {
	raw, err := rdb.Get(ctx, key).Bytes()
	if err != nil {
		return err
	}
	var got memoProfile
	if err := json.Unmarshal(raw, &got); err != nil || got.ID != 42 {
		return fmt.Errorf("got %+v, %v", got, err)
	}
	return nil
}

// gocacheGetProfile is a hit through go-redis/cache Once, as a user would
// write it.
func gocacheGetProfile(ctx context.Context, gc *cache.Cache, key string) error {
	var got memoProfile
	err := gc.Once(&cache.Item{Ctx: ctx, Key: key, Value: &got, TTL: time.Hour,
		Do: func(*cache.Item) (any, error) { return loadProfile(ctx, 42) }})
	if err == nil && got.ID != 42 {
		err = fmt.Errorf("got %+v", got)
	}
	return err
}

func benchMemoGet(b *testing.B, f *memo.Func[int64, memoProfile]) {
	ctx := context.Background()
	if _, err := f.Get(ctx, 42); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer coreReportCPU(b, coreCPU())
	for b.Loop() {
		got, err := f.Get(ctx, 42)
		if err != nil || got.ID != 42 {
			b.Fatalf("got %+v, %v", got, err)
		}
	}
}

// BenchmarkMemoWarmHitCPU is BenchmarkMemoWarmHit with the network taken
// out: once warm, a go-redis hook answers the GETs of the entries from a
// copy of their bytes, so that each op is only the client-side work (go-redis
// command and hooks, memo or go-redis/cache, decoding), without the round
// trip that dominates the other benchmarks and their noise. It shows the
// time each implementation adds; the goals are about the full round trip.
func BenchmarkMemoWarmHitCPU(b *testing.B) {
	ctx := context.Background()
	rdb := redistest.Standalone(b)
	answers := &getAnswers{}
	rdb.AddHook(answers)
	ns := redistest.Prefix(b)
	want, _ := loadProfile(ctx, 42)
	rawKey := ns + ":raw:42"
	data, _ := json.Marshal(want)
	answers.m.Store(rawKey, string(data))
	f := wrapProfile(b, core.NewFromRedis(rdb), ns, loadProfile, memo.Options{TTL: time.Hour})
	gc := cache.New(&cache.Options{Redis: rdb})
	gcKey := ns + ":gocache:42"
	getGC := func() error { return gocacheGetProfile(ctx, gc, gcKey) }
	if _, err := f.Get(ctx, 42); err != nil { // warm up: store both entries in Redis
		b.Fatal(err)
	}
	if err := getGC(); err != nil {
		b.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, ns+":*").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		if v, err := rdb.Get(ctx, k).Result(); err == nil {
			answers.m.Store(k, v)
		}
	}
	b.Run("impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		defer coreReportCPU(b, coreCPU())
		for b.Loop() {
			if err := rawGetProfile(ctx, rdb, rawKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=memo", func(b *testing.B) { benchMemoGet(b, f) })
	b.Run("impl=gocache", func(b *testing.B) {
		b.ReportAllocs()
		defer coreReportCPU(b, coreCPU())
		for b.Loop() {
			if err := getGC(); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := answers.answered.Load(); n == 0 {
		b.Fatal("the hook answered no GET")
	}
}

// getAnswers is a go-redis hook answering GETs of the keys in m from m.
type getAnswers struct {
	m        sync.Map // key -> string
	answered atomic.Int64
}

func (*getAnswers) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *getAnswers) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c, ok := cmd.(*redis.StringCmd); ok && cmd.Name() == "get" && len(c.Args()) == 2 {
			if key, ok := c.Args()[1].(string); ok {
				if v, ok := h.m.Load(key); ok {
					h.answered.Add(1)
					c.SetVal(v.(string))
					return nil
				}
			}
		}
		return next(ctx, cmd)
	}
}

func (*getAnswers) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// BenchmarkMemoWarmHitL1 compares a warm hit answered by the client-side
// cache with one over the network (standalone), and with a hit of
// go-redis/cache's own in-process cache (TinyLFU, on the same server, as a
// user would set it up: cache.NewTinyLFU, msgpack), which is the reference
// of the in-process tier's goal. Goals: L1 ≥ 10x faster than the network;
// L1 ≤ 1.5 µs and ≤ 5 allocs (the allocation bound is also a test in memo:
// TestWarmHitAllocs). go-redis/cache's local cache is not coherent across
// processes (a write elsewhere is seen after its TTL); L1 is.
func BenchmarkMemoWarmHitL1(b *testing.B) {
	ctx := context.Background()
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
	b.Run("impl=gocache-local", func(b *testing.B) {
		gc := cache.New(&cache.Options{Redis: redistest.NewClient(b, target), LocalCache: cache.NewTinyLFU(1000, time.Minute)})
		key := ns + ":gocache-local:42"
		if err := gocacheGetProfile(ctx, gc, key); err != nil { // warm up
			b.Fatal(err)
		}
		b.ReportAllocs()
		defer coreReportCPU(b, coreCPU())
		for b.Loop() {
			if err := gocacheGetProfile(ctx, gc, key); err != nil {
				b.Fatal(err)
			}
		}
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
// Each op runs them in the next of all their orders, so that none always
// runs first or always follows the in-process L1 hit.
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
	gc := cache.New(&cache.Options{Redis: rdb})
	gcKey := ns + ":gocache:42"
	impls := []struct {
		name string
		op   func() error
	}{
		{"raw", func() error { return rawGetProfile(ctx, rdb, rawKey) }},
		{"memo", func() error { _, err := net.Get(ctx, 42); return err }},
		{"memo-l1", func() error { _, err := l1.Get(ctx, 42); return err }},
		{"gocache", func() error { return gocacheGetProfile(ctx, gc, gcKey) }},
	}
	orders := permutations(len(impls))
	total := make([]time.Duration, len(impls))
	for i := range impls { // warm up
		if err := impls[i].op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		for _, i := range orders[n%len(orders)] {
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
	b.ReportMetric(mean(1)/mean(3), "memo/gocache")
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}
