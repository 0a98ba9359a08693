// Package generation holds the generation number of memo and httpcache
// (Read, Bump, and their Scripts for start-up checks) and caches it in the
// process (Cache): every key a feature stores holds the number, and a bump
// makes all of them unreachable in O(1).
//
// A Cache is safe for concurrent use. On Redis failure Get fails only until
// the number was read once; afterwards it keeps the known number and
// reports refresh errors to the onError hook.
package generation

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rediskit/rediskit/core"
)

// Cache is the generation number at one key, reread from Redis at most
// every refresh.
type Cache struct {
	c       *core.Client
	key     string
	refresh time.Duration
	failFor time.Duration
	bound   func(context.Context) (context.Context, context.CancelFunc)
	onError func(context.Context, error)

	gen     atomic.Int64 // -1 until read once
	readAt  atomic.Int64 // Unix nanoseconds of the last read or Bump
	loading atomic.Bool  // a refresh is running
	fail    atomic.Pointer[failure]
	// rereadFail is the last failed Reread.
	rereadFail atomic.Pointer[failure]
	flight     singleflight.Group
	mu         sync.Mutex    // orders storing a read against Bump
	bumps      atomic.Uint64 // Bumps done by this Cache
}

// failure is the last failed first read.
type failure struct {
	at  time.Time
	err error
}

// New returns a Cache of the generation number at key. refresh is how
// often Get rereads it (how soon a Bump by another process takes effect
// here); failFor is how long, after a failed first read, Get fails at once
// instead of queueing on an unresponsive Redis (the feature's per-call
// timeout suits). bound derives the context of one Redis call from the
// caller's, for instance with context.WithoutCancel and a timeout so that
// a caller giving up does not cancel a read others share; onError, which
// may be nil, receives the errors of refreshes. New panics, with the prefix
// "generation: ", on a nil client or bound or an empty key.
func New(c *core.Client, key string, refresh, failFor time.Duration,
	bound func(context.Context) (context.Context, context.CancelFunc),
	onError func(context.Context, error)) *Cache {
	if c == nil || key == "" || bound == nil {
		panic("generation: New needs a client, a key and a bound")
	}
	g := &Cache{c: c, key: key, refresh: refresh, failFor: failFor, bound: bound, onError: onError}
	g.gen.Store(-1)
	return g
}

// Get returns the current generation number. Until it was read once,
// concurrent callers share one read, each waiting up to its own ctx, and
// for failFor after a failed read callers fail at once with its error.
// Later, one caller at a time rereads it when refresh has passed, while
// the others use the known number; a failed reread is reported to onError
// and the known number kept. Errors are Read's ("generation: read ..."), or
// "generation: read <key>: " and ctx's error when ctx ends first.
func (g *Cache) Get(ctx context.Context) (int64, error) {
	if n := g.gen.Load(); n >= 0 {
		return g.refreshed(ctx, n), nil
	}
	if f := g.fail.Load(); f != nil && time.Since(f.at) < g.failFor {
		return 0, f.err
	}
	ch := g.flight.DoChan("", func() (any, error) {
		if n := g.gen.Load(); n >= 0 {
			return n, nil
		}
		n, err := g.read(ctx)
		if err != nil {
			g.fail.Store(&failure{at: time.Now(), err: err})
			return int64(0), err
		}
		g.fail.Store(nil)
		return n, nil
	})
	// Each caller waits for the shared read at most its own bound (its
	// Timeout and what its request budget has left), which it spends.
	wctx, cancel := g.bound(ctx)
	defer cancel()
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int64), nil
	case <-wctx.Done():
		return 0, fmt.Errorf("generation: read %q: %w", g.key, wctx.Err())
	case <-ctx.Done(): // bound may detach from ctx's cancellation
		return 0, fmt.Errorf("generation: read %q: %w", g.key, ctx.Err())
	}
}

// refreshed rereads the number when refresh has passed and no other
// caller is rereading it; on error it keeps n.
func (g *Cache) refreshed(ctx context.Context, n int64) int64 {
	if time.Duration(time.Now().UnixNano()-g.readAt.Load()) < g.refresh || !g.loading.CompareAndSwap(false, true) {
		return n
	}
	defer g.loading.Store(false)
	m, err := g.read(ctx)
	if err != nil {
		if g.onError != nil {
			g.onError(ctx, err)
		}
		return n
	}
	return m
}

// read reads the number from Redis (a lost key is created above every
// number used before, see Read) and stores it. A read
// that raced with this Cache's Bump never moves the number back;
// otherwise the number read wins: it is the one every process uses. It
// returns the number now in use.
func (g *Cache) read(ctx context.Context) (int64, error) {
	bumps := g.bumps.Load()
	rctx, cancel := g.bound(ctx)
	defer cancel()
	n, err := Read(rctx, g.c, g.key)
	if err != nil {
		return 0, err // "generation: read <key>: ..."
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur := g.gen.Load(); n < cur && g.bumps.Load() != bumps {
		n = cur // Bump stored a newer number while we read
	}
	g.gen.Store(n)
	g.readAt.Store(time.Now().UnixNano())
	return n, nil
}

// Bump increments the generation number (creating it like a lost one when
// missing, so the new number is higher than every one used before) and
// returns it. It takes effect at once in this process and within refresh
// in others. It runs under ctx as given, not bound. Errors are the package
// func Bump's ("generation: bump ...").
func (g *Cache) Bump(ctx context.Context) (int64, error) {
	n, err := Bump(ctx, g.c, g.key)
	if err != nil {
		return 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > g.gen.Load() {
		g.gen.Store(n)
	}
	g.bumps.Add(1)
	g.readAt.Store(time.Now().UnixNano())
	return n, nil
}

// Observe adopts n, a number another process bumped to and announced, when
// it is above the known one: that Bump then takes effect here at once
// rather than within refresh.
func (g *Cache) Observe(n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > g.gen.Load() {
		g.gen.Store(n)
		g.readAt.Store(time.Now().UnixNano())
	}
}

// Reread reads the number from Redis now, for a caller that may have
// missed an announced Bump (see Observe), and returns it. Until the number
// was read once it is Get. A failed reread is reported to onError and the
// known number returned; for failFor after one, Reread returns the known
// number without trying, so an unreachable Redis does not slow every
// caller down.
func (g *Cache) Reread(ctx context.Context) (int64, error) {
	n := g.gen.Load()
	if n < 0 {
		return g.Get(ctx)
	}
	if f := g.rereadFail.Load(); f != nil && time.Since(f.at) < g.failFor {
		return n, nil
	}
	m, err := g.read(ctx)
	if err != nil {
		g.rereadFail.Store(&failure{at: time.Now(), err: err})
		if g.onError != nil {
			g.onError(ctx, err)
		}
		return n, nil
	}
	g.rereadFail.Store(nil)
	return m, nil
}
