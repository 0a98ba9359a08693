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
	key  string
	done chan struct{} // made by the first waiter (under readsMu); closed when e and err are set
	e    *envelope[V]
	err  error
}

// lookup is what Get knows about the entry it reads: k, the generation,
// its key (arg is the key as an interface, nil when not made yet), the
// table's recent entry for k (nil if none) and when the read started.
type lookup[K comparable, V any] struct {
	k    K
	slot int // k's in the recent table (recentTable.slotOf)
	gen  int64
	key  string
	arg  any
	last *recent[K, V]
	at   time.Time
}

// read fetches and decodes the entry of lk, sharing one GET among the
// callers in this process that ask for the same key at the same time. A
// missing entry is (nil, nil); a corrupt one is reported and returned as
// (nil, nil) too, so that it is loaded and overwritten. Only Redis failures
// and ctx errors are errors.
//
// The first caller runs the GET itself, bounded by its ctx's deadline,
// Timeout and request budget but not by its cancellation (call.Detached):
// a hit costs no goroutine hand-off and no timer, and a caller cancelled
// during its own GET waits for it, at most Timeout. The others wait for it
// and leave as soon as their ctx ends; if the GET ends with the first
// caller's deadline, a waiter whose ctx has not ended reads again itself.
//
// The reads in flight are kept by slot of the recent table, one per slot:
// a read whose slot holds another key's shares nothing (as rare as keys
// sharing a slot at the same moment), and no key is hashed again (unless
// the table is off, see recentTable.slotOf).
func (f *Func[K, V]) read(ctx context.Context, lk *lookup[K, V]) (*envelope[V], error) {
	for {
		f.readsMu.Lock()
		if f.reads == nil {
			f.reads = make([]*readFlight[V], recentSlots)
		}
		fl := f.reads[lk.slot]
		waiting := fl != nil && fl.key == lk.key
		if !waiting {
			free := fl == nil
			fl, _ = f.flights.Get().(*readFlight[V])
			if fl == nil {
				fl = &readFlight[V]{}
			}
			fl.key = lk.key
			if free {
				f.reads[lk.slot] = fl
			}
		} else if fl.done == nil {
			fl.done = make(chan struct{}) // uncontended reads need no channel
		}
		done := fl.done
		f.readsMu.Unlock()
		if !waiting {
			e, err := f.readEntry(ctx, lk)
			fl.e, fl.err = e, err
			if done, joined := f.endRead(lk.slot, fl); joined {
				close(done)
			} else {
				*fl = readFlight[V]{} // nobody else saw fl
				f.flights.Put(fl)
			}
			return e, err
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
// and returns its channel and whether a waiter joined fl (made the
// channel). No waiter can join fl after that.
func (f *Func[K, V]) endRead(slot int, fl *readFlight[V]) (chan struct{}, bool) {
	f.readsMu.Lock()
	defer f.readsMu.Unlock()
	if f.reads[slot] == fl {
		f.reads[slot] = nil
	}
	return fl.done, fl.done != nil
}

// forgetRead makes later readers of k's entry key start their own GET,
// not share the one in flight.
func (f *Func[K, V]) forgetRead(k K, key string) {
	slot := f.recent.slotOf(k, key)
	f.readsMu.Lock()
	if f.reads != nil && f.reads[slot] != nil && f.reads[slot].key == key {
		f.reads[slot] = nil
	}
	f.readsMu.Unlock()
}

// readEntry is Get's read of lk's entry: the GET, then the decoding, or
// the one of lk.last when the GET returned exactly the bytes it was
// decoded from. It keeps the key and a new decoding in the recent table.
func (f *Func[K, V]) readEntry(ctx context.Context, lk *lookup[K, V]) (*envelope[V], error) {
	if lk.arg == nil { // boxed once: for the GET and for the recent table
		lk.arg = lk.key
	}
	data, found, err := f.fetch(ctx, lk.key, lk.arg, lk.at)
	if err != nil {
		return nil, err
	}
	last := lk.last
	current := last != nil && last.gen == lk.gen
	if found && current && last.env != nil && last.raw == data {
		return last.env, nil
	}
	var e *envelope[V]
	if found {
		e = f.decode(ctx, lk.key, data, true)
	}
	if !current || e != nil {
		r := &recent[K, V]{k: lk.k, gen: lk.gen, key: lk.key, arg: lk.arg}
		if e != nil && len(data) <= maxRecentBytes {
			r.raw, r.env = data, e
		}
		f.recent.store(lk.slot, r)
	}
	return e, nil
}

// readOnce reads and decodes the entry under key without sharing the GET,
// for re-checks that must see writes made after the caller's first read.
// Those pass report false: the corrupt entry was already reported by the
// first read.
func (f *Func[K, V]) readOnce(ctx context.Context, key string, report bool) (*envelope[V], error) {
	data, found, err := f.fetch(ctx, key, nil, time.Time{})
	if err != nil || !found {
		return nil, err
	}
	return f.decode(ctx, key, data, report), nil
}

// observe reads t.key just before a load calls the function and records
// what the load's write must still find there. If the read fails, t.key is
// cleared: storing without knowing what was there could undo a Forget.
func (f *Func[K, V]) observe(ctx context.Context, t *target) (*envelope[V], error) {
	data, found, err := f.fetch(ctx, t.key, nil, time.Time{})
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
	return f.decode(ctx, t.key, data, false), nil
}

// fetch GETs key (arg is key as an interface, or nil), starting now (the
// zero time: the clock is read); found is false when it is missing.
func (f *Func[K, V]) fetch(ctx context.Context, key string, arg any, now time.Time) (data string, found bool, err error) {
	if arg == nil {
		arg = key
	}
	if f.direct { // call.Do's direct path, without its closure: this is every hit
		if err := ctx.Err(); err != nil { // as go-redis would, before Detached hides it
			return "", false, err
		}
		if now.IsZero() {
			now = time.Now()
		}
		rctx, cancel := call.Detached(ctx, now, f.cfg.Timeout, f.wait)
		data, err = f.get(rctx, arg)
		cancel()
	} else {
		data, err = call.Do(ctx, f.cfg.Timeout, f.wait, false, func(ctx context.Context) (string, error) {
			return f.get(ctx, arg)
		})
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

// get is the GET of the entry key arg (boxed once by the caller).
func (f *Func[K, V]) get(ctx context.Context, arg any) (string, error) {
	cmd := redis.NewStringCmd(ctx, "get", arg)
	_ = f.rdb.Process(ctx, cmd)
	return cmd.Result()
}

// decode turns an entry's bytes into a new envelope: nil for a tombstone
// or a corrupt entry (reported when report is set).
func (f *Func[K, V]) decode(ctx context.Context, key, data string, report bool) *envelope[V] {
	if strings.HasPrefix(data, tombstonePrefix) {
		return nil
	}
	e := new(envelope[V])
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
