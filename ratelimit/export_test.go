package ratelimit

import (
	"time"

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
// one, in one batch of l (a fixed window or a GCRA), as l's flusher would,
// and returns each decision's outcome. Nothing else may decide with l
// meanwhile.
func BatchAllow(l *RedisLimiter, keys []string) (allowed []bool, errs []error) {
	allowed, errs = make([]bool, len(keys)), make([]error, len(keys))
	deadline := time.Now().Add(time.Minute)
	switch a := l.alg.(type) {
	case *fixedWindow:
		if a.batch != nil {
			batch := make([]*pending[txReq], len(keys))
			for i, k := range keys {
				_, rkey, _, ttl, err := a.window(k)
				if err != nil {
					panic(err)
				}
				batch[i] = &pending[txReq]{req: txReq{key: rkey, ttl: ttl}, deadline: deadline, done: make(chan struct{}, 1)}
			}
			a.batch.exec(batch)
			for i, p := range batch {
				allowed[i], errs[i] = p.err == nil && p.req.count <= int64(a.opts.Limit), p.err
			}
			return allowed, errs
		}
		return scriptBatch(a.scripts, keys, deadline, func(k string) (string, string, time.Duration) {
			tag, rkey, _, ttl, err := a.window(k)
			if err != nil {
				panic(err)
			}
			return tag, rkey, ttl
		}, allowed, errs)
	case *gcra:
		return scriptBatch(a.scripts, keys, deadline, func(k string) (string, string, time.Duration) {
			tag, rkey, err := a.key(k)
			if err != nil {
				panic(err)
			}
			return tag, rkey, -1
		}, allowed, errs)
	}
	panic("BatchAllow: not a fixed window or a GCRA")
}

func scriptBatch(s *scriptBatcher, keys []string, deadline time.Time, key func(string) (tag, rkey string, ttl time.Duration),
	allowed []bool, errs []error) ([]bool, []error) {
	batch := make([]*pending[evalReq], len(keys))
	for i, k := range keys {
		tag, rkey, ttl := key(k)
		p := &pending[evalReq]{req: evalReq{tag: tag, keys: []string{rkey}, n: 1}, deadline: deadline, done: make(chan struct{}, 1)}
		if ttl >= 0 {
			p.req.ttls = []time.Duration{ttl}
		}
		batch[i] = p
	}
	s.exec(batch)
	for i, p := range batch {
		// counterScript: denied == 0; gcraScript: allowed == cost.
		allowed[i], errs[i] = p.err == nil && (p.req.out[0] == 0) == (len(p.req.ttls) == 1), p.err
	}
	return allowed, errs
}
