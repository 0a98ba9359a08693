package memo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/lease"
)

// share runs work at most once at a time per key in this process, detached
// from ctx (context.WithoutCancel, bounded by LoadTimeout). A caller whose
// ctx ends stops waiting alone.
func (f *Func[K, V]) share(ctx context.Context, key string, work func(context.Context) result[V]) (V, error) {
	var zero V
	ch := f.loads.DoChan(key, func() (any, error) {
		// The refresh outlives the request: it has its own bound and must
		// not draw on the request's Redis budget.
		lctx, cancel := context.WithTimeout(budget.Without(context.WithoutCancel(ctx)), f.cfg.LoadTimeout)
		defer cancel()
		return work(lctx), nil
	})
	v, err := await(ctx, ch)
	if err != nil {
		return zero, err
	}
	r := v.(result[V])
	if r.err != nil {
		return zero, r.err
	}
	return f.value(r.env)
}

// load answers a miss. With stale non-nil (inside the StaleIfError window)
// a failing load serves stale instead of the error.
func (f *Func[K, V]) load(ctx context.Context, k K, key string, stale *envelope[V]) (V, error) {
	v, err := f.share(ctx, key, func(lctx context.Context) result[V] { return f.loadShared(lctx, k, key) })
	if err != nil && stale != nil && ctx.Err() == nil && !errors.Is(err, ErrNotFound) {
		f.stats.staleServed.Add(1)
		f.cfg.OnError(ctx, fmt.Errorf("memo: serving stale %q: %w", key, err))
		return f.value(stale)
	}
	return v, err
}

// target is where a load stores its result: the entry key (none when
// empty), what the key held just before the function was called (see
// observe and writeScript), and the lease to release (token empty when
// none is held).
type target struct {
	key, seen    string
	seenAt       time.Time
	lease, token string
}

// loadShared is the body of one shared load: take the lease (when on),
// re-check the entry (another load may have just stored it), then call fn.
func (f *Func[K, V]) loadShared(ctx context.Context, k K, key string) result[V] {
	t := target{key: key}
	if f.cfg.Lease {
		t.lease = f.leaseKey(key)
		var r result[V]
		var done bool
		if t.token, r, done = f.takeLease(ctx, key, t.lease); done {
			return r
		}
	}
	e, err := f.observe(ctx, &t)
	// Fail closed on a Redis error; serve what another load just stored.
	if (err != nil && f.cfg.FailClosed) || (e != nil && ms(f.cfg.Now()) < e.Soft) {
		if t.token != "" {
			f.release(context.WithoutCancel(ctx), t.lease, t.token)
		}
		return result[V]{env: e, err: err}
	}
	return f.call(ctx, k, t)
}

// takeLease takes the lease on key, or waits (at most LeaseWait) for its
// holder's result, taking the lease over if the holder gives it up. done
// reports a result found while waiting. A Redis error ends the attempt:
// the caller then loads without a lease or, with FailClosed, gets the
// error (done).
func (f *Func[K, V]) takeLease(ctx context.Context, key, lk string) (token string, r result[V], done bool) {
	failed := func(err error) (string, result[V], bool) {
		if f.cfg.FailClosed {
			return "", result[V]{err: err}, true
		}
		return "", result[V]{}, false
	}
	token, ok, err := f.acquire(ctx, lk)
	if err != nil {
		return failed(err)
	}
	if ok {
		return token, r, false
	}
	f.stats.leaseWaits.Add(1)
	var redisErr error // a failed read or acquire; other errors are ctx's
	timedOut, err := lease.Poll(ctx, f.cfg.LeaseWait, func() (bool, error) {
		e, err := f.readOnce(ctx, key, false)
		if err == nil && e != nil && ms(f.cfg.Now()) < e.Soft {
			r, done = result[V]{env: e}, true
			return true, nil
		}
		if err == nil {
			token, ok, err = f.acquire(ctx, lk)
		}
		redisErr = err
		return ok, err
	})
	switch {
	case redisErr != nil:
		return failed(redisErr)
	case err != nil:
		return "", result[V]{err: fmt.Errorf("memo: waiting for lease %q: %w", lk, err)}, true
	case timedOut:
		f.stats.leaseTimeouts.Add(1)
	}
	return token, r, done
}

// call runs fn, stores its result at t (when t.key is set) and releases
// t's lease (when t.token is set). Errors other than "not found" are not
// stored. With an Observer, the whole is one "load" span, ended with the
// error of a failed call ("not found" is a result, not a failure).
func (f *Func[K, V]) call(ctx context.Context, k K, t target) (r result[V]) {
	if f.obs != nil {
		var end func(error)
		ctx, end = f.obs.Start(ctx, "memo", "load")
		defer func() {
			if r.err != nil && errors.Is(r.err, ErrNotFound) {
				end(nil)
			} else {
				end(r.err)
			}
		}()
	}
	start := f.cfg.Now()
	v, err := f.invoke(ctx, k)
	now := f.cfg.Now()
	f.stats.loads.Add(1)
	wctx := context.WithoutCancel(ctx) // store even if fn used up LoadTimeout
	if t.token != "" {
		defer f.release(wctx, t.lease, t.token)
	}
	switch {
	case err == nil:
		r.env = f.newEnvelope(v, nil, now, now.Sub(start))
	case f.cfg.negative && f.isNotFound(err):
		var zero V
		r.env = f.newEnvelope(zero, err, now, now.Sub(start))
		r.err = f.notFound(err.Error(), err)
	default:
		f.stats.loadErrors.Add(1)
		if errors.Is(ctxErr(ctx), context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %v: %w", ErrLoadTimeout, f.cfg.LoadTimeout, err)
		}
		return result[V]{err: err}
	}
	if t.key != "" {
		f.write(wctx, t, r.env)
	}
	return r
}

// invoke calls fn, turning a panic into an error so that a panicking
// function cannot take down the process from the shared load's goroutine.
func (f *Func[K, V]) invoke(ctx context.Context, k K) (v V, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("memo: %s: function panicked: %v", f.name, p)
		}
	}()
	return f.fn(ctx, k)
}

// refresh reloads key in the background, once: in this process through the
// refreshing set, across processes through the lease (taken without
// waiting, whatever Options.Lease says) and a check that the entry is still
// the one seen. counter counts refreshes that called fn.
func (f *Func[K, V]) refresh(ctx context.Context, k K, key string, seen *envelope[V], counter *atomic.Int64) {
	if _, busy := f.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	go func() {
		defer f.refreshing.Delete(key)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.LoadTimeout)
		defer cancel()
		t := target{key: key, lease: f.leaseKey(key)}
		var ok bool
		var err error
		if t.token, ok, err = f.acquire(lctx, t.lease); err != nil || !ok {
			return
		}
		e, err := f.observe(lctx, &t)
		if err != nil || e == nil || e.Created != seen.Created {
			f.release(lctx, t.lease, t.token) // someone else refreshed or forgot it
			return
		}
		counter.Add(1)
		if r := f.call(lctx, k, t); r.err != nil && !errors.Is(r.err, ErrNotFound) {
			f.cfg.OnError(lctx, fmt.Errorf("memo: background refresh %q: %w", key, r.err))
		}
	}()
}
