package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/script"
)

// scriptBatcher decides the concurrent requests of one limiter with one call
// of a batch script (counterScript, gcraScript) per round trip. On a
// standalone server the whole batch is one call; on a cluster (or any other
// client) it is one call per hash tag, since a script's keys must share a
// slot, sent as one pipeline that go-redis splits by node. Every call is
// sent at most once (call.NoRetry: a resent call could count twice); a
// server without the script (restart, failover, another cluster node) gets
// it by EVAL in a second pipeline; the limiter's first batch is sent by
// EVAL at once. The decisions of a batch with the same keys and cost (many
// callers on one hot key) travel as one entry of the script call, which
// decides them one after the other and replies once for all (how many it
// admitted, and the state before them); expand then gives each caller the
// reply its own decision would have had, from its position in the entry.
// So a hot key costs one entry, one key read and one write per batch.
type scriptBatcher struct {
	*batch.Batcher[evalReq, evalScratch]
	rdb    redis.UniversalClient
	sc     *script.Script
	head   []any // the limiter's constants, ARGV's first values
	width  int   // reply values per decision
	ewidth int   // reply values per entry
	expand func(entry []int64, n, pos int, out []int64)
	one    bool // a standalone client: one call per batch

	loaded atomic.Bool // the last batch succeeded: send EVALSHA (else EVAL)
}

// evalScratch is a sender's scratch space, reused batch after batch.
type evalScratch struct {
	index   map[string]int // hash tag -> its call
	merge   map[string]int // first key -> the last entry on it
	calls   []evalCall
	entries []evalEntry
}

// evalReq is one decision: cost n on keys (sharing the hash tag tag) whose
// TTLs are ttls (none for GCRA). out is its reply, width values, the first
// of which is never negative (a negative one, a key the script cannot read,
// fails the decision).
type evalReq struct {
	tag  string
	keys []string
	ttls []time.Duration
	n    int
	out  []int64

	entry int // the sender's: index of the request's entry in the batch
	pos   int // the sender's: position of the request in its entry

	key  [1]string        // storage of keys for a one-key request
	ttl1 [1]time.Duration // storage of ttls for a one-key request
}

// evalEntry is the m decisions of one script call that share keys and
// cost, req's (the first of them, whose TTLs they all use: the script
// keeps a key's first TTL anyway); idx is its place in the call.
type evalEntry struct {
	req       *evalReq
	m         int
	call, idx int
}

// evalCall is one script call of a batch: n entries for callers
// decisions; out holds the callers' replies, off the next one's offset
// while they are handed out.
type evalCall struct {
	n, callers int
	off        int
	args       []any
	cmd        *redis.IntSliceCmd
	out        []int64
}

// newScriptBatcher returns the batcher of sc, a batch script whose ARGV
// starts with head and that replies ewidth values per entry; expand
// derives from an entry's reply the width values of the decision of cost
// n at position pos in it.
func newScriptBatcher(rdb redis.UniversalClient, timeout time.Duration, wait call.Wait, sc *script.Script, head []any,
	ewidth, width int, expand func(entry []int64, n, pos int, out []int64)) *scriptBatcher {
	_, one := rdb.(*redis.Client)
	s := &scriptBatcher{rdb: rdb, sc: sc, head: head, width: width, ewidth: ewidth, expand: expand, one: one}
	s.Batcher = batch.New(batchOptions(timeout, wait), s.send)
	return s
}

// decide queues one decision of cost n on keys and waits for it (see
// batch.Batcher.Do); the reply is its width values.
func (s *scriptBatcher) decide(ctx context.Context, tag string, keys []string, ttls []time.Duration, n int) ([]int64, error) {
	p := s.Get()
	p.Req.tag, p.Req.keys, p.Req.ttls, p.Req.n = tag, keys, ttls, n
	defer s.Release(p)
	if err := decideBatched(ctx, s.Batcher, p); err != nil {
		return nil, err
	}
	return p.Req.out, nil
}

// decideOne is decide for a request on one key: ttl is its TTL, or
// ignored when hasTTL is false (GCRA).
func (s *scriptBatcher) decideOne(ctx context.Context, tag, key string, ttl time.Duration, hasTTL bool, n int) ([]int64, error) {
	p := s.Get()
	p.Req.tag, p.Req.n = tag, n
	defer s.Release(p)
	p.Req.key[0] = key
	p.Req.keys = p.Req.key[:]
	if hasTTL {
		p.Req.ttl1[0] = ttl
		p.Req.ttls = p.Req.ttl1[:]
	}
	if err := decideBatched(ctx, s.Batcher, p); err != nil {
		return nil, err
	}
	return p.Req.out, nil
}

// sameDecision reports whether a and b decide the same cost on the same
// keys.
func sameDecision(a, b *evalReq) bool {
	return a.n == b.n && slices.Equal(a.keys, b.keys)
}

// group sorts batch into script calls (one per hash tag, one in all on a
// standalone server) and, within them, entries of decisions that share
// keys and cost.
func (s *scriptBatcher) group(reqs []*batch.Pending[evalReq], sc *evalScratch) {
	if sc.index == nil {
		sc.index, sc.merge = map[string]int{}, map[string]int{}
	}
	clear(sc.index)
	clear(sc.merge)
	for _, p := range reqs {
		r := &p.Req
		e, ok := sc.merge[r.keys[0]]
		if !ok || !sameDecision(sc.entries[e].req, r) {
			i := 0
			if s.one {
				if len(sc.calls) == 0 {
					sc.calls = append(sc.calls, evalCall{})
				}
			} else if i, ok = sc.index[r.tag]; !ok {
				i = len(sc.calls)
				sc.index[r.tag] = i
				sc.calls = append(sc.calls, evalCall{})
			}
			e = len(sc.entries)
			sc.merge[r.keys[0]] = e
			sc.entries = append(sc.entries, evalEntry{req: r, call: i, idx: sc.calls[i].n})
			sc.calls[i].n++
		}
		r.entry, r.pos = e, sc.entries[e].m
		sc.entries[e].m++
		sc.calls[sc.entries[e].call].callers++
	}
}

// send runs batch as one script call per hash tag (one in all on a
// standalone server), in one pipeline.
func (s *scriptBatcher) send(ctx context.Context, reqs []*batch.Pending[evalReq], sc *evalScratch) {
	s.group(reqs, sc)
	calls, entries := sc.calls, sc.entries
	// Each call's command: EVALSHA sha numkeys KEYS... head... ARGV...,
	// the keys of every entry before the arguments of every entry.
	perKeys, perArgs := len(reqs[0].Req.keys), 2+len(reqs[0].Req.ttls)
	for i := range calls {
		c := &calls[i]
		c.args = make([]any, 3, 3+c.n*(perKeys+perArgs)+len(s.head))
		c.args[0], c.args[1], c.args[2] = "evalsha", s.sc.Hash(), c.n*perKeys
		if !s.loaded.Load() { // the first reqs loads the script: one round trip, not two
			c.args[0], c.args[1] = "eval", s.sc.Source()
		}
	}
	for _, e := range entries {
		c := &calls[e.call]
		for _, k := range e.req.keys {
			c.args = append(c.args, k)
		}
	}
	for i := range calls {
		calls[i].args = append(calls[i].args, s.head...)
	}
	// A TTL in ms, boxed, costs an allocation; the entries of a reqs mostly
	// share their few TTLs (one per window, to the millisecond), so the
	// last few boxed ones are reused.
	var boxed [4]struct {
		ms  int64
		arg any
	}
	for _, e := range entries {
		c := &calls[e.call]
		c.args = append(c.args, e.req.n, e.m)
		for i, ttl := range e.req.ttls {
			ms := max(ttl, time.Millisecond).Milliseconds()
			b := &boxed[i%len(boxed)]
			if b.arg == nil || b.ms != ms {
				b.ms, b.arg = ms, ms
			}
			c.args = append(c.args, b.arg)
		}
	}
	s.pipeline(ctx, calls, false)
	missing := false
	for i := range calls {
		missing = missing || redis.HasErrorPrefix(calls[i].cmd.Err(), "NOSCRIPT")
	}
	if missing {
		s.pipeline(ctx, calls, true)
	}
	// After a failure (an outage, a restart that emptied the script cache)
	// the next reqs loads the script again.
	s.loaded.Store(calls[0].cmd.Err() == nil)
	for _, p := range reqs {
		e := &entries[p.Req.entry]
		c := &calls[e.call]
		vals, err := c.cmd.Result()
		if err == nil && len(vals) != c.n*s.ewidth {
			err = fmt.Errorf("unexpected script reply: %d values, want %d", len(vals), c.n*s.ewidth)
		}
		if err != nil {
			p.Err = wrapRedis(err)
			continue
		}
		ev := vals[e.idx*s.ewidth : (e.idx+1)*s.ewidth]
		if ev[0] < 0 {
			p.Err = fmt.Errorf("ratelimit: redis: %q: a key holds a value the limiter did not write", p.Req.keys)
			continue
		}
		if c.out == nil {
			c.out = make([]int64, c.callers*s.width)
		}
		p.Req.out = c.out[c.off : c.off+s.width : c.off+s.width]
		c.off += s.width
		s.expand(ev, p.Req.n, p.Req.pos, p.Req.out)
	}
	clear(calls)
	clear(entries)
	sc.calls, sc.entries = calls[:0], entries[:0]
}

// pipeline sends calls by EVALSHA, or when retry is set those that got
// NOSCRIPT by EVAL, in one pipeline, each at most once.
func (s *scriptBatcher) pipeline(ctx context.Context, calls []evalCall, retry bool) {
	_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i := range calls {
			c := &calls[i]
			if retry {
				if !redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
					continue
				}
				c.args[0], c.args[1] = "eval", s.sc.Source()
			}
			c.cmd = redis.NewIntSliceCmd(ctx, c.args...)
			_ = pipe.Process(ctx, call.NoRetry{Cmder: c.cmd})
		}
		return nil
	})
}
