package memo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/generation"
)

// newGeneration returns f's cache of the generation number ForgetAll bumps
// (internal/generation): read once, then reread at most every
// GenerationRefresh by one Get in line, the others using the known number;
// after a failed first read Gets fail at once for Timeout instead of
// queueing on an unresponsive Redis. Each read is bounded like every memo
// call (Timeout and the caller's request budget), detached from the
// caller's cancellation since other callers may share it.
func (f *Func[K, V]) newGeneration() *generation.Cache {
	return generation.New(f.c, f.genKey, f.cfg.GenerationRefresh, f.cfg.Timeout, f.boundRead, f.refreshFailed)
}

// boundRead is the bound of one generation read. It records when the read
// started once it has ended (see quietGeneration).
func (f *Func[K, V]) boundRead(ctx context.Context) (context.Context, context.CancelFunc) {
	start := time.Now().UnixNano()
	rctx, cancel := call.Context(context.WithoutCancel(ctx), f.cfg.Timeout, f.wait)
	return rctx, func() {
		cancel()
		f.genRead.Store(start)
	}
}

// refreshFailed reports a failed reread (the known number stays in use).
func (f *Func[K, V]) refreshFailed(ctx context.Context, err error) {
	f.genRead.Store(0) // the read that just ended failed: no reread is known
	_ = f.generationErr(ctx, err, false)
}

// generation returns the generation number for a Get. On a client that
// does not apply context deadlines to its socket (call.Honoured), a read of
// the cache that may go to Redis runs through call.Do, so that it too waits
// at most Timeout; reads that cannot (quietGeneration) stay in line.
func (f *Func[K, V]) generation(ctx context.Context) (int64, error) {
	var g int64
	var err error
	if f.direct || f.quietGeneration() {
		g, err = f.gen.Get(ctx)
	} else {
		// call.Do bounds the wait by Timeout and the budget, and spends it;
		// the read inside must not spend the same wait a second time.
		g, err = call.Do(ctx, f.cfg.Timeout, f.wait, false, func(ctx context.Context) (int64, error) {
			return f.gen.Get(budget.Without(ctx))
		})
		if err == nil {
			f.genKnown.Store(true)
		}
	}
	if err != nil {
		if cerr := ctxErr(ctx); cerr != nil {
			return 0, cerr // the caller gave up; not Redis' fault
		}
		return 0, f.generationErr(ctx, err, !errors.Is(err, call.ErrTimeout))
	}
	return g, nil
}

// quietGeneration reports whether f.gen.Get would certainly not read Redis
// now: the number is known and a successful read started less than
// GenerationRefresh ago (less a margin for the time until Get looks), so
// the cache's own clock, set after that read, is younger still.
func (f *Func[K, V]) quietGeneration() bool {
	start := f.genRead.Load()
	if start == 0 || !f.genKnown.Load() {
		return false
	}
	refresh := f.cfg.GenerationRefresh
	return time.Duration(time.Now().UnixNano()-start) < refresh-min(refresh/4, 10*time.Millisecond)
}

// generationErr turns a failed generation read into memo's error: corrupt
// (a value that is not a number) or wrapping ErrUnavailable. It counts and
// reports it; with once, only the first time this error value is seen: the
// cache hands one read's error to every caller that shared that read or
// failed at once after it, and each failed read counts once.
func (f *Func[K, V]) generationErr(ctx context.Context, err error, once bool) error {
	var out error
	bad := errors.Is(err, core.ErrDecode)
	if bad {
		out = corrupt(f.genKey, err)
	} else {
		out = fmt.Errorf("memo: generation %q: %w: %w", f.genKey, ErrUnavailable, err)
	}
	if once && reflect.TypeOf(err).Comparable() { // the cache's errors are pointers
		f.genErrMu.Lock()
		seen := f.genErr == err
		f.genErr = err
		f.genErrMu.Unlock()
		if seen {
			return out
		}
	}
	if bad {
		f.stats.corrupt.Add(1)
	} else {
		f.stats.redisErrors.Add(1)
	}
	f.cfg.OnError(ctx, out)
	return out
}

// currentGeneration reads the generation from Redis itself, not from the
// cache, for Forget: a ForgetAll by another process within the last
// GenerationRefresh is then seen.
func (f *Func[K, V]) currentGeneration(ctx context.Context) (int64, error) {
	g, err := call.Do(ctx, f.cfg.Timeout, f.wait, f.direct, func(ctx context.Context) (int64, error) {
		return generation.Read(ctx, f.c, f.genKey)
	})
	if err != nil {
		return 0, f.generationErr(ctx, err, false)
	}
	return g, nil
}
