package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

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
// EVAL at once. The script decides the requests of a call in queue
// order, so many callers on one hot key cost one key read and one write.
type scriptBatcher struct {
	*batcher[evalReq]
	rdb   redis.UniversalClient
	sc    *script.Script
	head  []any // the limiter's constants, ARGV's first values
	width int   // reply values per decision
	one   bool  // a standalone client: one call per batch

	loaded atomic.Bool // the last batch succeeded: send EVALSHA (else EVAL)

	// The flusher's scratch space, reused batch after batch.
	index map[string]int // hash tag -> its call
	calls []evalCall
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
	call int // the flusher's: index of the request's script call

	key  [1]string        // storage of keys for a one-key request
	ttl1 [1]time.Duration // storage of ttls for a one-key request
}

// evalCall is one script call of a batch: n decisions; off is the reply
// offset of the next one while the replies are handed out.
type evalCall struct {
	n, off int
	args   []any
	cmd    *redis.IntSliceCmd
}

// newScriptBatcher returns the batcher of sc, a batch script whose ARGV
// starts with head and that replies width values per decision.
func newScriptBatcher(rdb redis.UniversalClient, timeout time.Duration, wait call.Wait, sc *script.Script, head []any, width int) *scriptBatcher {
	_, one := rdb.(*redis.Client)
	s := &scriptBatcher{rdb: rdb, sc: sc, head: head, width: width, one: one, index: map[string]int{}}
	s.batcher = newBatcher(timeout, wait, s.send)
	return s
}

// decide queues one decision of cost n on keys and waits for it (see
// batcher.do); the reply is its width values.
func (s *scriptBatcher) decide(ctx context.Context, tag string, keys []string, ttls []time.Duration, n int, timeout time.Duration) ([]int64, error) {
	p := &pending[evalReq]{req: evalReq{tag: tag, keys: keys, ttls: ttls, n: n}}
	if err := s.do(ctx, p, timeout); err != nil {
		return nil, err
	}
	return p.req.out, nil
}

// decideOne is decide for a request on one key: ttl is its TTL, or
// ignored when hasTTL is false (GCRA).
func (s *scriptBatcher) decideOne(ctx context.Context, tag, key string, ttl time.Duration, hasTTL bool, n int, timeout time.Duration) ([]int64, error) {
	p := &pending[evalReq]{req: evalReq{tag: tag, n: n}}
	p.req.key[0] = key
	p.req.keys = p.req.key[:]
	if hasTTL {
		p.req.ttl1[0] = ttl
		p.req.ttls = p.req.ttl1[:]
	}
	if err := s.do(ctx, p, timeout); err != nil {
		return nil, err
	}
	return p.req.out, nil
}

// send runs batch as one script call per hash tag (one in all on a
// standalone server), in one pipeline.
func (s *scriptBatcher) send(ctx context.Context, batch []*pending[evalReq]) {
	clear(s.index)
	calls := s.calls[:0]
	for _, p := range batch {
		i := 0
		if s.one {
			if len(calls) == 0 {
				calls = append(calls, evalCall{})
			}
		} else {
			var ok bool
			if i, ok = s.index[p.req.tag]; !ok {
				i = len(calls)
				s.index[p.req.tag] = i
				calls = append(calls, evalCall{})
			}
		}
		calls[i].n++
		p.req.call = i
	}
	// Each call's command: EVALSHA sha numkeys KEYS... head... ARGV...,
	// the keys of every decision before the arguments of every decision.
	perKeys, perArgs := len(batch[0].req.keys), 1+len(batch[0].req.ttls)
	for i := range calls {
		c := &calls[i]
		c.args = make([]any, 3, 3+c.n*(perKeys+perArgs)+len(s.head))
		c.args[0], c.args[1], c.args[2] = "evalsha", s.sc.Hash(), c.n*perKeys
		if !s.loaded.Load() { // the first batch loads the script: one round trip, not two
			c.args[0], c.args[1] = "eval", s.sc.Source()
		}
	}
	for _, p := range batch {
		c := &calls[p.req.call]
		for _, k := range p.req.keys {
			c.args = append(c.args, k)
		}
	}
	for i := range calls {
		calls[i].args = append(calls[i].args, s.head...)
	}
	for _, p := range batch {
		c := &calls[p.req.call]
		c.args = append(c.args, p.req.n)
		for _, ttl := range p.req.ttls {
			c.args = append(c.args, max(ttl, time.Millisecond).Milliseconds())
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
	// the next batch loads the script again.
	s.loaded.Store(calls[0].cmd.Err() == nil)
	for _, p := range batch {
		c := &calls[p.req.call]
		vals, err := c.cmd.Result()
		if err == nil && len(vals) != c.n*s.width {
			err = fmt.Errorf("unexpected script reply: %d values, want %d", len(vals), c.n*s.width)
		}
		if err != nil {
			p.err = wrapRedis(err)
			continue
		}
		p.req.out = vals[c.off : c.off+s.width : c.off+s.width]
		c.off += s.width
		if p.req.out[0] < 0 {
			p.err = fmt.Errorf("ratelimit: redis: %q: a key holds a value the limiter did not write", p.req.keys)
		}
	}
	clear(calls)
	s.calls = calls[:0]
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
