package memo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Lease polling: waiters re-read the entry at growing intervals up to this.
const (
	pollFirst = 5 * time.Millisecond
	pollMax   = 50 * time.Millisecond
)

// share runs work at most once at a time per key in this process, detached
// from ctx (context.WithoutCancel, bounded by LoadTimeout). A caller whose
// ctx ends stops waiting alone.
func (f *Func[K, V]) share(ctx context.Context, key string, work func(context.Context) result[V]) (V, error) {
	var zero V
	ch := f.loads.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.LoadTimeout)
		defer cancel()
		return work(lctx), nil
	})
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case res := <-ch:
		r := res.Val.(result[V])
		if r.err != nil {
			return zero, r.err
		}
		return f.value(r.env)
	}
}

// load answers a miss. With stale non-nil (inside the StaleIfError window)
// a failing load serves stale instead of the error.
func (f *Func[K, V]) load(ctx context.Context, k K, key string, stale *envelope[V]) (V, error) {
	v, err := f.share(ctx, key, func(lctx context.Context) result[V] { return f.loadShared(lctx, k, key) })
	if err != nil && stale != nil && ctx.Err() == nil && !errors.Is(err, ErrNotFound) {
		f.stats.staleServed.Add(1)
		f.report(fmt.Errorf("memo: serving stale %q: %w", key, err))
		return f.value(stale)
	}
	return v, err
}

// loadShared is the body of one shared load: take the lease (when on),
// re-check the entry (another load may have just stored it), then call fn.
func (f *Func[K, V]) loadShared(ctx context.Context, k K, key string) result[V] {
	var lease, token string
	if f.cfg.Lease {
		lease = f.leaseKey(key)
		var r result[V]
		var done bool
		if token, r, done = f.takeLease(ctx, key, lease); done {
			return r
		}
	}
	if e, err := f.readOnce(ctx, key, false); err == nil && e != nil && ms(time.Now()) < e.Soft {
		if token != "" {
			f.release(context.WithoutCancel(ctx), lease, token)
		}
		return result[V]{env: e}
	}
	return f.call(ctx, k, key, lease, token)
}

// takeLease takes the lease on key, or waits (at most LeaseWait) for its
// holder's result, taking the lease over if the holder gives it up. done
// reports a result found while waiting. Redis errors end the attempt: the
// caller then loads without a lease.
func (f *Func[K, V]) takeLease(ctx context.Context, key, lease string) (token string, r result[V], done bool) {
	token, ok, err := f.acquire(ctx, lease)
	if err != nil || ok {
		return token, r, false
	}
	f.stats.leaseWaits.Add(1)
	deadline := time.Now().Add(f.cfg.LeaseWait)
	wait := pollFirst
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			f.stats.leaseTimeouts.Add(1)
			return "", r, false
		}
		t.Reset(min(wait, left))
		select {
		case <-ctx.Done():
			return "", result[V]{err: fmt.Errorf("memo: waiting for lease %q: %w", lease, ctx.Err())}, true
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
		e, err := f.readOnce(ctx, key, false)
		if err != nil {
			return "", r, false
		}
		if e != nil && ms(time.Now()) < e.Soft {
			return "", result[V]{env: e}, true
		}
		if token, ok, err = f.acquire(ctx, lease); err != nil || ok {
			return token, r, false
		}
	}
}

// call runs fn, stores its result (when key is set) and releases the lease
// (when token is set). Errors other than "not found" are not stored.
func (f *Func[K, V]) call(ctx context.Context, k K, key, lease, token string) result[V] {
	start := time.Now()
	v, err := f.invoke(ctx, k)
	now := time.Now()
	f.stats.loads.Add(1)
	wctx := context.WithoutCancel(ctx) // store even if fn used up LoadTimeout
	if token != "" {
		defer f.release(wctx, lease, token)
	}
	var r result[V]
	switch {
	case err == nil:
		r.env = f.newEnvelope(v, nil, now, now.Sub(start))
	case f.cfg.negative && f.isNotFound(err):
		var zero V
		r.env = f.newEnvelope(zero, err, now, now.Sub(start))
		r.err = f.notFound(err.Error(), err)
	default:
		f.stats.loadErrors.Add(1)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %v: %w", ErrLoadTimeout, f.cfg.LoadTimeout, err)
		}
		return result[V]{err: err}
	}
	if key != "" {
		f.write(wctx, key, r.env)
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
		lease := f.leaseKey(key)
		token, ok, err := f.acquire(lctx, lease)
		if err != nil || !ok {
			return
		}
		e, err := f.readOnce(lctx, key, false)
		if err != nil || e == nil || e.Created != seen.Created {
			f.release(lctx, lease, token) // someone else refreshed or forgot it
			return
		}
		counter.Add(1)
		if r := f.call(lctx, k, key, lease, token); r.err != nil && !errors.Is(r.err, ErrNotFound) {
			f.report(fmt.Errorf("memo: background refresh %q: %w", key, r.err))
		}
	}()
}
