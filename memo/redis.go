package memo

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/lease"
	"github.com/rediskit/rediskit/internal/script"
)

// Lua scripts, declared with the commands they call (Check probes them).
// Each touches one key, so they run on a cluster too.
var (
	// writeScript stores an entry (ARGV[1], PX ARGV[3]) only if the key
	// still holds what the load saw before calling the function: ARGV[2] is
	// "" for nothing, else the SHA-1 of those bytes. So a load never
	// overwrites a Forget made meanwhile (it leaves a tombstone) or a newer
	// load's entry.
	writeScript = script.New(`local cur = redis.call('GET', KEYS[1])
if (cur and redis.sha1hex(cur) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`)
)

// tombstonePrefix starts what Forget leaves in place of an entry, followed
// by a random token: a miss to readers, and a change that loads which
// started before the Forget see when they try to store. It lives
// tombstoneTTL.
const tombstonePrefix = "memo:forgotten:"

// tombstoneTTL outlives any load that can still store: one that started
// (saw the entry) before the Forget stores within LoadTimeout plus one
// write, or not at all.
func (c config) tombstoneTTL() time.Duration { return c.LoadTimeout + c.Timeout + time.Second }

// await returns a shared call's result, or ctx.Err() as soon as ctx ends;
// the call goes on for the others.
func await(ctx context.Context, ch <-chan singleflight.Result) (any, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		return r.Val, r.Err
	}
}

// ctxErr is ctx.Err(), also once ctx's deadline has passed but its timer
// has not fired yet: with ContextTimeoutEnabled the socket deadline can
// beat it, and the caller's deadline must not pass for a Redis failure.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// redisErr reports a Redis failure of op on key and returns it wrapped
// with ErrUnavailable.
func (f *Func[K, V]) redisErr(ctx context.Context, op, key string, err error) error {
	err = fmt.Errorf("memo: %s %q: %w: %w", op, key, ErrUnavailable, err)
	f.stats.redisErrors.Add(1)
	f.cfg.OnError(ctx, err)
	return err
}

// readFlight is one GET shared by the concurrent readers of a key.
type readFlight[V any] struct {
	done chan struct{} // made by the first waiter (under readsMu); closed when e and err are set
	e    *envelope[V]
	err  error
	env  envelope[V] // where the GET's entry is decoded: no allocation of its own
}

// read fetches and decodes the entry under key, sharing one GET among the
// callers in this process that ask for the same key at the same time. A
// missing entry is (nil, nil); a corrupt one is reported and returned as
// (nil, nil) too, so that it is loaded and overwritten. Only Redis failures
// and ctx errors are errors.
//
// The first caller runs the GET itself, bounded by its own ctx and
// Timeout, so a hit costs no goroutine hand-off; the others wait for
// it and leave as soon as their ctx ends. If the first caller's ctx ends,
// a waiter whose ctx has not reads again itself. (go-redis honours ctx
// deadlines on the socket, with ContextTimeoutEnabled, but not
// cancellation: a caller cancelled during its own GET waits for it, at most
// Timeout.)
func (f *Func[K, V]) read(ctx context.Context, key string) (*envelope[V], error) {
	for {
		f.readsMu.Lock()
		fl, waiting := f.reads[key]
		if !waiting {
			fl = &readFlight[V]{}
			f.reads[key] = fl
		} else if fl.done == nil {
			fl.done = make(chan struct{}) // uncontended reads need no channel
		}
		done := fl.done
		f.readsMu.Unlock()
		if !waiting {
			fl.e, fl.err = f.readInto(ctx, key, true, &fl.env)
			if done := f.endRead(key, fl); done != nil {
				close(done)
			}
			return fl.e, fl.err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
		}
		if !errors.Is(fl.err, context.Canceled) && !errors.Is(fl.err, context.DeadlineExceeded) {
			return fl.e, fl.err
		}
	}
}

// endRead removes fl from the reads in flight, unless Forget did already,
// and returns its channel, if a waiter made one. No waiter can join fl
// after that.
func (f *Func[K, V]) endRead(key string, fl *readFlight[V]) chan struct{} {
	f.readsMu.Lock()
	defer f.readsMu.Unlock()
	if f.reads[key] == fl {
		delete(f.reads, key)
	}
	return fl.done
}

// forgetRead makes later readers of key start their own GET, not share
// the one in flight.
func (f *Func[K, V]) forgetRead(key string) {
	f.readsMu.Lock()
	delete(f.reads, key)
	f.readsMu.Unlock()
}

// readOnce is read without sharing, for re-checks that must see writes made
// after the caller's first read. Those pass report false: the corrupt entry
// was already reported by the first read.
func (f *Func[K, V]) readOnce(ctx context.Context, key string, report bool) (*envelope[V], error) {
	return f.readInto(ctx, key, report, nil)
}

// readInto is readOnce decoding into e (when not nil).
func (f *Func[K, V]) readInto(ctx context.Context, key string, report bool, e *envelope[V]) (*envelope[V], error) {
	data, found, err := f.fetch(ctx, key)
	if err != nil || !found {
		return nil, err
	}
	return f.decode(ctx, key, data, report, e), nil
}

// observe reads t.key just before a load calls the function and records
// what the load's write must still find there. If the read fails, t.key is
// cleared: storing without knowing what was there could undo a Forget.
func (f *Func[K, V]) observe(ctx context.Context, t *target) (*envelope[V], error) {
	data, found, err := f.fetch(ctx, t.key)
	if err != nil {
		t.key = ""
		return nil, err
	}
	t.seen, t.seenAt = "", time.Now()
	if !found {
		return nil, nil
	}
	sum := sha1.Sum([]byte(data))
	t.seen = hex.EncodeToString(sum[:])
	return f.decode(ctx, t.key, data, false, nil), nil
}

// fetch GETs key; found is false when it is missing.
func (f *Func[K, V]) fetch(ctx context.Context, key string) (data string, found bool, err error) {
	if f.direct { // call.Do's direct path, without its closure: this is every hit
		rctx, cancel := call.Context(ctx, f.cfg.Timeout, f.wait)
		data, err = f.rdb.Get(rctx, key).Result()
		cancel()
	} else {
		data, err = call.Do(ctx, f.cfg.Timeout, f.wait, false, func(ctx context.Context) (string, error) { return f.rdb.Get(ctx, key).Result() })
	}
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil && ctxErr(ctx) != nil:
		return "", false, ctxErr(ctx) // the caller gave up; not Redis' fault
	case err != nil:
		return "", false, f.redisErr(ctx, "get", key, err)
	}
	return data, true, nil
}

// decode turns an entry's bytes into its envelope, decoded into e when e
// is not nil: nil for a tombstone or a corrupt entry (reported when report
// is set).
func (f *Func[K, V]) decode(ctx context.Context, key, data string, report bool, e *envelope[V]) *envelope[V] {
	if strings.HasPrefix(data, tombstonePrefix) {
		return nil
	}
	if cached := f.l1Decoded(key, data); cached != nil {
		return cached
	}
	if e == nil {
		e = new(envelope[V])
	}
	var err error
	if !f.cfg.json || !decodeJSON(data, e) {
		*e = envelope[V]{}
		err = f.cfg.Codec.Unmarshal([]byte(data), e)
	}
	if err == nil {
		err = e.valid()
	}
	if err != nil {
		if report {
			f.stats.corrupt.Add(1)
			f.cfg.OnError(ctx, corrupt(key, err))
		}
		return nil
	}
	f.l1Store(key, data, e)
	return e
}

// write stores e under t.key until its hard expiry, unless the key changed
// since the load saw it (see writeScript), or the load took longer than
// LoadTimeout since then: a tombstone may be gone by now.
func (f *Func[K, V]) write(ctx context.Context, t target, e *envelope[V]) {
	if time.Since(t.seenAt) > f.cfg.LoadTimeout {
		f.stats.discarded.Add(1)
		return
	}
	data, err := f.cfg.Codec.Marshal(e)
	if err != nil {
		f.cfg.OnError(ctx, fmt.Errorf("memo: encode entry %q: %w", t.key, err))
		return
	}
	ttl := max(time.UnixMilli(e.Hard).Sub(f.cfg.Now()), time.Millisecond)
	stored, err := call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, func(ctx context.Context) (int64, error) {
		return writeScript.Run(ctx, f.rdb, []string{t.key}, data, t.seen, ttl.Milliseconds()).Int64()
	})
	switch {
	case err != nil:
		_ = f.redisErr(ctx, "set", t.key, err)
	case stored == 0:
		f.stats.discarded.Add(1)
	}
}

// acquire tries to take the lease on key; it returns the token on success.
func (f *Func[K, V]) acquire(ctx context.Context, key string) (token string, ok bool, err error) {
	token, err = call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, func(ctx context.Context) (string, error) {
		return lease.Take(ctx, f.rdb, key, f.cfg.LeaseTTL)
	})
	if err != nil {
		return "", false, f.redisErr(ctx, "lease", key, err)
	}
	return token, token != "", nil
}

// release deletes the lease on key if it still holds token.
func (f *Func[K, V]) release(ctx context.Context, key, token string) {
	_, err := call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, func(ctx context.Context) (bool, error) {
		return lease.Release(ctx, f.rdb, key, token, "", 0)
	})
	if err != nil {
		_ = f.redisErr(ctx, "release lease", key, err)
	}
}
