package ratelimit

import (
	"context"
	"time"

	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/window"
)

// ForceScript makes l, a fixed window, decide every request with the Lua
// script, as it does on a cluster or a server before Redis 7.
func ForceScript(l *RedisLimiter) { l.alg.(*fixedWindow).batch = nil }

// Batched reports whether l, a fixed window, uses the batched MULTI path
// for Allow.
func Batched(l *RedisLimiter) bool {
	f := l.alg.(*fixedWindow)
	return f.batch != nil && !f.batch.unsupported.Load()
}

var IsUnsupportedNX = window.NXUnsupported

// SetHeaders is setHeaders, for the header tests.
var SetHeaders = setHeaders

// FallbackKeys returns how many keys l's local fallback holds.
func FallbackKeys(l *RedisLimiter) int {
	n := 0
	for i := range l.fb.shards {
		s := &l.fb.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// BatchAllow decides keys (repeats allowed: a hot key), each with a cost of
// one, in one batch of l (a fixed window or a GCRA), as l's sender would,
// and returns each decision's outcome. Nothing else may decide with l
// meanwhile.
func BatchAllow(l *RedisLimiter, keys []string) (allowed []bool, errs []error) {
	allowed, errs = make([]bool, len(keys)), make([]error, len(keys))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch a := l.alg.(type) {
	case *fixedWindow:
		if a.batch != nil {
			reqs := make([]*batch.Pending[txReq], len(keys))
			for i, k := range keys {
				_, rkey, _, ttl, err := a.window(k)
				if err != nil {
					panic(err)
				}
				reqs[i] = &batch.Pending[txReq]{Req: txReq{key: rkey, ttl: ttl}}
			}
			a.batch.send(ctx, reqs, &txScratch{})
			for i, p := range reqs {
				allowed[i], errs[i] = p.Err == nil && p.Req.count <= int64(a.opts.Limit), p.Err
			}
			return allowed, errs
		}
		return scriptBatch(ctx, a.scripts, keys, func(k string) (string, string, time.Duration) {
			tag, rkey, _, ttl, err := a.window(k)
			if err != nil {
				panic(err)
			}
			return tag, rkey, ttl
		}, allowed, errs)
	case *gcra:
		return scriptBatch(ctx, a.scripts, keys, func(k string) (string, string, time.Duration) {
			tag, rkey, err := a.key(k)
			if err != nil {
				panic(err)
			}
			return tag, rkey, -1
		}, allowed, errs)
	}
	panic("BatchAllow: not a fixed window or a GCRA")
}

func scriptBatch(ctx context.Context, s *scriptBatcher, keys []string, key func(string) (tag, rkey string, ttl time.Duration),
	allowed []bool, errs []error) ([]bool, []error) {
	reqs := make([]*batch.Pending[evalReq], len(keys))
	for i, k := range keys {
		tag, rkey, ttl := key(k)
		p := &batch.Pending[evalReq]{Req: evalReq{tag: tag, keys: []string{rkey}, n: 1}}
		if ttl >= 0 {
			p.Req.ttls = []time.Duration{ttl}
		}
		reqs[i] = p
	}
	s.send(ctx, reqs, &evalScratch{})
	for i, p := range reqs {
		// counterScript: denied == 0; gcraScript: allowed == cost.
		allowed[i], errs[i] = p.Err == nil && (p.Req.out[0] == 0) == (len(p.Req.ttls) == 1), p.Err
	}
	return allowed, errs
}
