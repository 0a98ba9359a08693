package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
)

// LocalOptions configures the coherent in-process tier (see the package
// doc, In-process tier).
type LocalOptions struct {
	// MaxBytes bounds the tier: the bodies, header fields and keys of the
	// entries it holds. Zero (the default) turns the tier off.
	MaxBytes int
	// MaxDelay is the coherence bound: a store, purge or PurgeAll by any
	// instance is seen by this one at most MaxDelay after it returned.
	// Default 100ms.
	MaxDelay time.Duration
}

const defaultLocalMaxDelay = 100 * time.Millisecond

// Invalidation messages, published on the channel "<ns>:invalidate" after
// every store and removal: an entry key, or genPrefix and the new
// generation number after PurgeAll.
const genPrefix = "gen "

func (c *Cache) invalidationChannel() string { return core.MakeKey(c.opts.Namespace, "invalidate") }

// publish announces that the entry keys changed, after they did. Every
// instance publishes, whether its own tier is on or not, so that every
// tier in the namespace stays coherent. This instance's tier drops them at
// once: a process sees its own changes immediately.
func (c *Cache) publish(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if c.local != nil {
		for _, k := range keys {
			c.local.apply(c, k)
		}
	}
	rctx, cancel := c.callCtx(ctx)
	defer cancel()
	ch := c.invalidationChannel()
	rdb := c.c.Redis()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		// Subscriptions are on the master of the channel's slot: publishing
		// there too keeps messages and the tier's pings in one server's
		// order, which the MaxDelay bound rests on (a PUBLISH sent to another
		// node reaches them over the cluster bus, in no order with the pings).
		node, err := cc.MasterForKey(rctx, ch)
		if err != nil {
			return fmt.Errorf("httpcache: publish invalidation: %w", err)
		}
		rdb = node
	}
	_, err := rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Publish(rctx, ch, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("httpcache: publish invalidation: %w", err)
	}
	return nil
}

// local is the in-process tier: decoded entries (shared, never owned) by
// entry key, least recently used first out beyond maxBytes, dropped when an
// invalidation message names them. It answers only while the subscription
// is known to be current (fresh), see run.
type local struct {
	maxBytes int64
	maxDelay time.Duration

	mu      sync.Mutex
	items   map[string]*localItem
	head    *localItem // most recently used; head.prev is the least
	bytes   int64
	changed marks // invalidations (under mu)

	// freshUntil is, in nanoseconds since epoch (monotonic), until when
	// the tier may answer: maxDelay after the sending of the last ping
	// whose pong came back. Every invalidation published before that ping
	// was received before its pong.
	freshUntil atomic.Int64
	hits       atomic.Uint64
	stop       context.CancelFunc
	done       chan struct{}
	ps         *redis.PubSub // the current subscription (under mu)
}

// localItem is one entry key: an entry without Vary, or the variants of one
// Vary spec seen so far.
type localItem struct {
	key        string
	plain      *entry
	spec       string
	variants   map[string]*entry
	size       int64
	expires    int64 // unix nanoseconds: the entry's Redis TTL ends
	prev, next *localItem
}

var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// entrySize approximates the memory of e: body, header fields, Vary spec
// and a fixed overhead.
func entrySize(e *entry) int64 {
	n := len(e.body) + len(e.vary) + len(e.variant) + 256
	for k, vs := range e.fields() {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return int64(n)
}

// startLocal starts the tier and its subscription.
func (c *Cache) startLocal() {
	ctx, stop := context.WithCancel(context.Background())
	c.local = &local{maxBytes: int64(c.opts.Local.MaxBytes), maxDelay: c.opts.Local.MaxDelay,
		items: map[string]*localItem{}, stop: stop, done: make(chan struct{})}
	go c.runLocal(ctx)
}

// Close stops the in-process tier's subscription; without the tier it does
// nothing. The Cache keeps serving from Redis. It returns nil.
func (c *Cache) Close() error {
	if l := c.local; l != nil {
		l.stop()
		l.mu.Lock()
		if l.ps != nil {
			_ = l.ps.Close() // ends a receive in progress
		}
		l.mu.Unlock()
		<-l.done
		l.clear()
	}
	return nil
}

// runLocal keeps the subscription and applies its messages until ctx ends.
// A (re)subscription may have missed messages: it empties the tier. A
// receive error, or silence (no message, not even a pong) for 2*maxDelay
// plus a second, drops the connection and subscribes again; meanwhile the
// tier does not answer.
func (c *Cache) runLocal(ctx context.Context) {
	l := c.local
	defer close(l.done)
	for ctx.Err() == nil {
		ps := c.c.Redis().Subscribe(ctx, c.invalidationChannel())
		l.mu.Lock()
		l.ps = ps
		l.mu.Unlock()
		err := l.session(ctx, c, ps)
		_ = ps.Close()
		l.freshUntil.Store(0)
		l.clear()
		if ctx.Err() != nil {
			return
		}
		c.reportError(ctx, fmt.Errorf("httpcache: in-process tier: subscription: %w", err))
		select {
		case <-ctx.Done():
		case <-time.After(l.maxDelay):
		}
	}
}

// session receives on one subscription until it fails. A pinger sends a
// PING every maxDelay/4 on the subscription's connection: Redis answers in
// order, so a pong proves every invalidation published before its ping
// arrived, and the tier may answer until maxDelay after that ping was sent.
func (l *local) session(ctx context.Context, c *Cache, ps *redis.PubSub) error {
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		t := time.NewTicker(max(l.maxDelay/4, time.Millisecond))
		defer t.Stop()
		for {
			_ = ps.Ping(sctx, strconv.FormatInt(monotonic(), 10)) // a failure shows as silence
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	})
	for {
		msg, err := ps.ReceiveTimeout(ctx, 2*l.maxDelay+time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			l.clear() // messages may have been lost before it
		case *redis.Message:
			l.apply(c, m.Payload)
		case *redis.Pong:
			if sent, err := strconv.ParseInt(m.Payload, 10, 64); err == nil {
				l.freshUntil.Store(sent + int64(l.maxDelay))
			}
		}
	}
}

// apply handles one invalidation message.
func (l *local) apply(c *Cache, payload string) {
	if g, ok := strings.CutPrefix(payload, genPrefix); ok {
		if n, err := strconv.ParseInt(g, 10, 64); err == nil {
			c.gen.Observe(n)
		}
		l.clear()
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changed.record(payload)
	if it := l.items[payload]; it != nil {
		l.remove(it)
	}
}

// clear empties the tier.
func (l *local) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changed.recordAll()
	clear(l.items)
	l.head, l.bytes = nil, 0
}

// mark is taken before reading an entry from Redis, for put.
func (l *local) mark() uint64 { return l.changed.mark() }

// fresh reports whether every invalidation published more than maxDelay
// ago has been applied: the tier may answer.
func (l *local) fresh() bool { return monotonic() < l.freshUntil.Load() }

// get returns the entry held for key that matches r's Vary headers, nil
// when there is none or the tier may not answer.
func (l *local) get(key string, r *http.Request, now int64) *entry {
	if !l.fresh() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	it := l.items[key]
	if it == nil {
		return nil
	}
	if now > it.expires {
		l.remove(it)
		return nil
	}
	e := it.plain
	if it.spec != "" {
		e = it.variants[variantID(it.spec, r.Header)]
	}
	if e != nil {
		l.touch(it)
		l.hits.Add(1)
	}
	return e
}

// put keeps e, read from Redis for key after mark returned m, unless an
// invalidation of key came in since. e is shared from now on: its header is
// copied for each response.
func (l *local) put(key string, m uint64, e *entry, expires int64) {
	size := entrySize(e) + int64(len(key))
	if size > l.maxBytes {
		return
	}
	e.share()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed.since(key, m) {
		return
	}
	it := l.items[key]
	if it != nil && (it.spec != e.vary || e.vary == "") {
		l.remove(it)
		it = nil
	}
	if it == nil {
		it = &localItem{key: key, spec: e.vary, size: int64(len(key))}
		l.items[key] = it
		l.link(it)
	} else {
		l.touch(it)
	}
	if e.vary == "" {
		it.plain = e
	} else {
		if it.variants == nil {
			it.variants = map[string]*entry{}
		}
		if old := it.variants[e.variant]; old != nil {
			it.size -= entrySize(old)
			l.bytes -= entrySize(old)
		}
		it.variants[e.variant] = e
	}
	it.size += size - int64(len(key))
	l.bytes += size - int64(len(key))
	it.expires = max(it.expires, expires)
	for l.bytes > l.maxBytes && l.head != nil {
		l.remove(l.head.prev)
	}
}

// link puts it first in the LRU ring (under mu).
func (l *local) link(it *localItem) {
	if l.head == nil {
		it.prev, it.next = it, it
	} else {
		it.next, it.prev = l.head, l.head.prev
		l.head.prev.next = it
		l.head.prev = it
	}
	l.head = it
	l.bytes += it.size
}

func (l *local) unlink(it *localItem) {
	if it.next == it {
		l.head = nil
	} else {
		it.prev.next, it.next.prev = it.next, it.prev
		if l.head == it {
			l.head = it.next
		}
	}
	it.prev, it.next = nil, nil
	l.bytes -= it.size
}

func (l *local) touch(it *localItem) {
	if l.head != it {
		l.unlink(it)
		l.link(it)
	}
}

func (l *local) remove(it *localItem) {
	l.unlink(it)
	delete(l.items, it.key)
}

// size returns the bytes the tier holds.
func (l *local) size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}
