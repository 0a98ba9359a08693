package memo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua scripts. Each touches one key, so they run on a cluster too.
var (
	// releaseScript deletes a lease only if it still holds our token, so a
	// holder whose lease expired never deletes another process's lease.
	releaseScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	// genScript reads the generation, creating it from the clock when it
	// is missing, so a lost generation key never brings back entries of a
	// generation used before.
	genScript = redis.NewScript(`local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`)
	// bumpScript is INCR on a generation initialised like genScript.
	bumpScript = redis.NewScript(`if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
end
return redis.call('INCR', KEYS[1])`)
)

// errTimeout is what guard returns when Redis did not answer in time.
var errTimeout = errors.New("no answer within RedisTimeout")

// guard runs op with ctx bounded by RedisTimeout. go-redis honours context
// deadlines on the socket only with Options.ContextTimeoutEnabled; without
// it, op runs in a goroutine and the caller stops waiting at the deadline
// (the abandoned command ends at the client's own ReadTimeout).
func guard[T any](ctx context.Context, d time.Duration, direct bool, op func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if direct {
		return op(ctx)
	}
	type reply struct {
		v   T
		err error
	}
	done := make(chan reply, 1)
	go func() {
		v, err := op(ctx)
		done <- reply{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, errTimeout
		}
		return zero, ctx.Err()
	}
}

// do is guard with this Func's RedisTimeout.
func do[T any, K comparable, V any](ctx context.Context, f *Func[K, V], op func(context.Context) (T, error)) (T, error) {
	return guard(ctx, f.cfg.RedisTimeout, f.ctxTimeouts, op)
}

// redisErr reports a Redis failure of op on key and returns it wrapped
// with ErrUnavailable.
func (f *Func[K, V]) redisErr(op, key string, err error) error {
	err = fmt.Errorf("memo: %s %q: %w: %w", op, key, ErrUnavailable, err)
	f.stats.redisErrors.Add(1)
	f.report(err)
	return err
}

func (f *Func[K, V]) report(err error) {
	if f.cfg.OnError != nil {
		f.cfg.OnError(err)
	}
}

// read fetches and decodes the entry under key, sharing one GET among the
// callers in this process that ask for the same key at the same time. A
// missing entry is (nil, nil); a corrupt one is reported and returned as
// (nil, nil) too, so that it is loaded and overwritten. Only Redis failures
// are errors. The shared GET is bounded by RedisTimeout, not by ctx.
func (f *Func[K, V]) read(ctx context.Context, key string) (*envelope[V], error) {
	v, err, _ := f.reads.Do(key, func() (any, error) { return f.readOnce(context.WithoutCancel(ctx), key, true) })
	if err != nil {
		return nil, err
	}
	return v.(*envelope[V]), nil
}

// readOnce is read without sharing, for re-checks that must see writes made
// after the caller's first read. Those pass report false: the corrupt entry
// was already reported by the first read.
func (f *Func[K, V]) readOnce(ctx context.Context, key string, report bool) (*envelope[V], error) {
	data, err := do(ctx, f, func(ctx context.Context) (string, error) { return f.rdb.Get(ctx, key).Result() })
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // the caller gave up; not Redis' fault
		}
		return nil, f.redisErr("get", key, err)
	}
	if e := f.l1Decoded(key, data); e != nil {
		return e, nil
	}
	e := new(envelope[V])
	err = f.cfg.Codec.Unmarshal([]byte(data), e)
	if err == nil {
		err = e.valid()
	}
	if err != nil {
		if report {
			f.stats.corrupt.Add(1)
			f.report(corrupt(key, err))
		}
		return nil, nil
	}
	f.l1Store(key, data, e)
	return e, nil
}

// maxDecoded bounds the decoded twins kept beside the client-side cache.
const maxDecoded = 10_000

// decoded is an entry's bytes as last read and their decoding.
type decoded[V any] struct {
	raw string
	env *envelope[V]
}

// l1Decoded returns the envelope decoded earlier from exactly these bytes.
// With L1 on, go-redis answers warm hits from memory; keeping the decoded
// twin of those bytes saves decoding them again on every hit.
func (f *Func[K, V]) l1Decoded(key, data string) *envelope[V] {
	if !f.l1 {
		return nil
	}
	if d, ok := f.decoded.Load(key); ok && d.(*decoded[V]).raw == data {
		return d.(*decoded[V]).env
	}
	return nil
}

func (f *Func[K, V]) l1Store(key, data string, e *envelope[V]) {
	if !f.l1 {
		return
	}
	if _, loaded := f.decoded.Swap(key, &decoded[V]{raw: data, env: e}); !loaded && f.decodedN.Add(1) > maxDecoded {
		f.decoded.Clear() // crude but bounded; the hot keys come back at once
		f.decodedN.Store(0)
	}
}

// write stores e under key until its hard expiry.
func (f *Func[K, V]) write(ctx context.Context, key string, e *envelope[V]) {
	data, err := f.cfg.Codec.Marshal(e)
	if err != nil {
		f.report(fmt.Errorf("memo: encode entry %q: %w", key, err))
		return
	}
	ttl := time.Until(time.UnixMilli(e.Hard))
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	_, err = do(ctx, f, func(ctx context.Context) (string, error) { return f.rdb.Set(ctx, key, data, ttl).Result() })
	if err != nil {
		_ = f.redisErr("set", key, err)
	}
}

// acquire tries to take the lease on key; it returns the token on success.
func (f *Func[K, V]) acquire(ctx context.Context, key string) (token string, ok bool, err error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token = hex.EncodeToString(b[:])
	ok, err = do(ctx, f, func(ctx context.Context) (bool, error) {
		return f.rdb.SetNX(ctx, key, token, f.cfg.LeaseTTL).Result()
	})
	if err != nil {
		return "", false, f.redisErr("lease", key, err)
	}
	return token, ok, nil
}

// release deletes the lease on key if it still holds token.
func (f *Func[K, V]) release(ctx context.Context, key, token string) {
	_, err := do(ctx, f, func(ctx context.Context) (any, error) {
		return releaseScript.Run(ctx, f.rdb, []string{key}, token).Result()
	})
	if err != nil {
		_ = f.redisErr("release lease", key, err)
	}
}

// fetchGeneration reads the generation from Redis and caches it locally.
func (f *Func[K, V]) fetchGeneration(ctx context.Context) (int64, error) {
	s, err := do(ctx, f, func(ctx context.Context) (string, error) {
		return genScript.Run(ctx, f.rdb, []string{f.genKey}, time.Now().UnixMilli()).Text()
	})
	if err != nil {
		return 0, f.redisErr("generation", f.genKey, err)
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.stats.corrupt.Add(1)
		err = corrupt(f.genKey, err)
		f.report(err)
		return 0, err
	}
	f.setGeneration(g)
	return g, nil
}

func (f *Func[K, V]) setGeneration(g int64) {
	f.gen.Store(g)
	f.genAt.Store(time.Now().UnixNano())
}

// generation returns the current generation: the local copy while it is
// younger than GenerationRefresh; when older, the copy is still used and
// one background read refreshes it, so warm hits stay one round trip. Only
// the first call of a process waits for Redis.
func (f *Func[K, V]) generation(ctx context.Context) (int64, error) {
	at := f.genAt.Load()
	if at == 0 {
		v, err, _ := f.genFlight.Do("", func() (any, error) {
			return f.fetchGeneration(context.WithoutCancel(ctx))
		})
		if err != nil {
			return 0, err
		}
		return v.(int64), nil
	}
	if time.Duration(time.Now().UnixNano()-at) > f.cfg.GenerationRefresh && f.genBusy.CompareAndSwap(false, true) {
		go func() {
			defer f.genBusy.Store(false)
			_, _ = f.fetchGeneration(context.WithoutCancel(ctx))
		}()
	}
	return f.gen.Load(), nil
}

// entryKey is "<ns>:<name>:g<gen>:<key>"; leaseKey is
// "<ns>:<name>:lease:g<gen>:<key>".
func (f *Func[K, V]) entryKey(gen int64, part string) string {
	return f.base + "g" + strconv.FormatInt(gen, 36) + ":" + part
}

func (f *Func[K, V]) leaseKey(entryKey string) string {
	return f.leaseBase + entryKey[len(f.base):]
}
