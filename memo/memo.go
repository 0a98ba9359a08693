package memo

import (
	"context"
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/generation"
	"github.com/rediskit/rediskit/internal/lease"
)

// Func is a memoized function from K to V. It is safe for concurrent use;
// values returned to concurrent callers of one load, and to the hits of
// one entry in one process, are shared, so treat a V holding slices, maps
// or pointers as read-only. On a Redis error or timeout (each call bounded by
// Options.Timeout) it fails open by default: the function is called and
// its result returned unstored; with Options.FailClosed the error is
// returned, wrapping ErrUnavailable. Every Redis error reaches OnError and
// Stats.
type Func[K comparable, V any] struct {
	c         *core.Client
	rdb       redis.UniversalClient
	name      string
	fn        func(context.Context, K) (V, error)
	cfg       config
	keyOf     func(K) (string, error)
	base      string // "<ns>:<name>:"
	leaseBase string // "<ns>:<name>:lease:"
	genKey    string // "<ns>:<name>:gen"
	prefix    atomic.Pointer[genKeyPrefix]

	obs  core.Observer // nil: no spans
	wait call.Wait     // nil: Redis waits not reported

	intKey bool // default key function on an integer K: see hitKey
	direct bool // go-redis honours ctx deadlines on sockets (call.Honoured)
	l1     bool // the client serves repeated GETs from its client-side cache

	readsMu    sync.Mutex
	reads      []*readFlight[V]   // by slot of the recent table (see read); made at the first read
	loads      singleflight.Group // key: entry key; shares loads
	flights    sync.Pool          // of *readFlight[V], for reads no other caller joined
	recent     recentTable[K, V]
	refreshing sync.Map // entry keys being refreshed in the background
	gen        *generation.Cache
	genRead    atomic.Int64 // UnixNano at which the last generation read that ended started; 0 after a failed one
	genKnown   atomic.Bool  // a generation was read (only kept without direct)
	genErrMu   sync.Mutex
	genErr     error // the last generation read error counted
	stats      counters
}

// Wrap returns fn memoized in Redis under name, which must be non-empty and
// made of letters, digits and "_.-/". Keys are rendered by the default key
// function (see the package doc). It returns an error wrapping
// ErrInvalidOptions for a bad name or Options, or a key type K the default
// key function cannot render stably (use WrapKey). Wrap does not touch
// Redis.
func Wrap[K comparable, V any](c *core.Client, name string, fn func(context.Context, K) (V, error), opts Options) (*Func[K, V], error) {
	return wrap(c, name, fn, nil, opts)
}

// WrapKey is Wrap with key rendering each K as the key part of its entry,
// for key types the default cannot render (pointers, interfaces, structs
// holding them) or to choose the text. An empty key part is an error
// wrapping core.ErrInvalidKey; long parts or parts holding '{' or '}' are
// hashed as the package doc describes.
func WrapKey[K comparable, V any](c *core.Client, name string, fn func(context.Context, K) (V, error), key func(K) string, opts Options) (*Func[K, V], error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key function", ErrInvalidOptions)
	}
	return wrap(c, name, fn, key, opts)
}

func wrap[K comparable, V any](c *core.Client, name string, fn func(context.Context, K) (V, error), key func(K) string, opts Options) (*Func[K, V], error) {
	if c == nil || fn == nil {
		return nil, fmt.Errorf("%w: nil client or function", ErrInvalidOptions)
	}
	if err := checkName("name", name, false); err != nil {
		return nil, err
	}
	cfg, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	keyOf, err := keyFunc(key)
	if err != nil {
		return nil, err
	}
	f := &Func[K, V]{
		c: c, rdb: c.Redis(), name: name, fn: fn, cfg: cfg, keyOf: keyOf,
		base:      core.MakeKey(cfg.Namespace, name, ""),
		leaseBase: core.MakeKey(cfg.Namespace, name, "lease", ""),
		genKey:    core.MakeKey(cfg.Namespace, name, "gen"),
		obs:       c.Observer(),
		wait:      call.Observe(c.Observer(), "memo"),
	}
	if key == nil {
		var k K
		_, f.intKey = appendIntKey(nil, k)
	}
	f.recent.seed = maphash.MakeSeed()
	f.recent.off = !exactEquality(reflect.TypeFor[K]())
	f.direct = call.Honoured(f.rdb)
	f.gen = f.newGeneration()
	if r, ok := f.rdb.(*redis.Client); ok {
		o := r.Options()
		f.l1 = o.ClientSideCacheConfig != nil || o.ClientSideCache != nil
	}
	return f, nil
}

// MustWrap is Wrap that panics on a configuration error, for package-level
// variables.
func MustWrap[K comparable, V any](c *core.Client, name string, fn func(context.Context, K) (V, error), opts Options) *Func[K, V] {
	return must(Wrap(c, name, fn, opts))
}

func must[K comparable, V any](f *Func[K, V], err error) *Func[K, V] {
	if err != nil {
		panic(err.Error())
	}
	return f
}

// L1 reports whether warm hits are served from the client's client-side
// cache (core.Config.ClientSideCache).
func (f *Func[K, V]) L1() bool { return f.l1 }

// Get returns fn(ctx, k), from Redis when a servable entry is there, else by
// calling fn once per key per process (once across processes with Lease)
// and storing the result. A "not found" result is a *NotFoundError; other
// errors of fn are returned as is and never cached. If ctx ends first, Get
// returns ctx.Err() while the shared load goes on for the others. On a Redis
// failure Get calls fn directly, or with FailClosed returns an error
// wrapping ErrUnavailable.
func (f *Func[K, V]) Get(ctx context.Context, k K) (V, error) {
	var zero V
	if ctx == nil {
		return zero, errNilContext("get")
	}
	slot, last := f.recent.find(k)
	var part string
	if last == nil && !f.intKey {
		var err error
		if part, err = f.keyOf(k); err != nil {
			return zero, err
		}
	}
	gen, err := f.generation(ctx)
	if err != nil {
		if err := ctxErr(ctx); err != nil {
			return zero, err
		}
		return f.redisDown(ctx, k, "", err)
	}
	lk := lookup[K, V]{k: k, slot: slot, gen: gen, last: last}
	if last != nil && last.gen == gen {
		lk.key, lk.arg = last.key, last.arg
	} else {
		if last != nil && !f.intKey {
			part, _ = f.keyOf(k) // it rendered k before
		}
		lk.key = f.hitKey(gen, k, part)
	}
	if slot < 0 {
		lk.slot = f.recent.keyIndex(lk.key)
	}
	lk.at = time.Now()
	e, err := f.read(ctx, &lk)
	if err != nil {
		if err := ctxErr(ctx); err != nil {
			return zero, err
		}
		return f.redisDown(ctx, k, lk.key, err)
	}
	if e == nil {
		f.stats.misses.Add(1)
		return f.load(ctx, k, lk.key, nil)
	}
	return f.serve(ctx, k, lk.key, e, lk.at)
}

// hitKey is entryKey(gen, keyOf(k)), given part = keyOf(k) unless the key
// is an integer, which it appends to the generation's prefix itself: one
// allocation per call.
func (f *Func[K, V]) hitKey(gen int64, k K, part string) string {
	if !f.intKey {
		return f.entryKey(gen, part)
	}
	var buf [96]byte
	b, _ := appendIntKey(append(buf[:0], f.genPrefix(gen)...), k)
	return string(b)
}

// serve answers from an entry read from Redis according to its age, at
// the time the read started (with the default clock; Options.Now is asked
// anew).
func (f *Func[K, V]) serve(ctx context.Context, k K, key string, e *envelope[V], readAt time.Time) (V, error) {
	now := ms(readAt)
	if !f.cfg.realClock {
		now = ms(f.cfg.Now())
	}
	switch {
	case now < e.Soft:
		f.countHit(e)
		if !e.Negative && shouldRefreshEarly(now, e.Soft, e.Delta, f.cfg.Beta) {
			f.refresh(ctx, k, key, e, &f.stats.earlyRefreshes)
		}
		return f.value(e)
	case !e.Negative && now < e.Soft+f.cfg.StaleWhileRevalidate.Milliseconds() && now < e.Hard:
		f.stats.staleServed.Add(1)
		f.refresh(ctx, k, key, e, &f.stats.staleRefreshes)
		return f.value(e)
	case !e.Negative && now < e.Soft+f.cfg.StaleIfError.Milliseconds() && now < e.Hard:
		f.stats.misses.Add(1)
		return f.load(ctx, k, key, e)
	}
	f.stats.misses.Add(1)
	return f.load(ctx, k, key, nil)
}

func (f *Func[K, V]) countHit(e *envelope[V]) {
	f.stats.hits.Add(1)
	if e.Negative {
		f.stats.negativeHits.Add(1)
	}
}

// redisDown applies the failure policy after a Redis error on the read
// path: fail closed returns it, fail open calls fn (shared per key) without
// touching Redis again for this call.
func (f *Func[K, V]) redisDown(ctx context.Context, k K, key string, err error) (V, error) {
	if f.cfg.FailClosed {
		var zero V
		return zero, err
	}
	if key == "" {
		part, _ := f.keyOf(k)
		key = f.base + "nogen:" + part
	}
	return f.share(ctx, key, func(lctx context.Context) result[V] { return f.call(lctx, k, target{}) })
}

// Forget deletes the entry for k, in this process and (through Redis) in
// every other; the next Get loads it again. Loads of k already running do
// not store their results, and no Get in this process that starts after
// Forget returns shares one of them (in other processes, a Get may still
// share a load running there, whose result it gets but which is not
// stored). Redis failures are returned, wrapping ErrUnavailable.
func (f *Func[K, V]) Forget(ctx context.Context, k K) error {
	if ctx == nil {
		return errNilContext("forget")
	}
	part, err := f.keyOf(k)
	if err != nil {
		return err
	}
	gen, err := f.currentGeneration(ctx)
	if err != nil {
		return err
	}
	keys := []string{f.entryKey(gen, part)}
	// Until this process rereads the generation, its Gets may still use the
	// one it knows, when another process bumped it meanwhile: forget k
	// there too.
	if known, err := f.generation(ctx); err == nil && known != gen {
		keys = append(keys, f.entryKey(known, part))
	}
	tomb := tombstonePrefix + lease.Token()
	for _, key := range keys {
		_, err = call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, func(ctx context.Context) (string, error) {
			return f.rdb.Set(ctx, key, tomb, f.cfg.tombstoneTTL()).Result()
		})
		if err != nil {
			return f.redisErr(ctx, "forget", key, err)
		}
		f.forgetRead(k, key) // later Gets start their own read and load
		f.loads.Forget(key)
	}
	return nil
}

// ForgetAll forgets every entry of this Func in O(1): it increments the
// generation number that is part of every entry key, so old entries are
// never read again and expire on their own. It takes effect at once in this
// process and within Options.GenerationRefresh in others. Redis failures are
// returned, wrapping ErrUnavailable.
func (f *Func[K, V]) ForgetAll(ctx context.Context) error {
	if ctx == nil {
		return errNilContext("forget all")
	}
	if _, err := call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, f.gen.Bump); err != nil {
		return f.redisErr(ctx, "forget all", f.genKey, err)
	}
	return nil
}

func errNilContext(op string) error {
	return fmt.Errorf("memo: %s: %w", op, core.ErrNilContext)
}
