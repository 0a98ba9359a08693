package ratelimit

import "github.com/rediskit/rediskit/internal/window"

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
