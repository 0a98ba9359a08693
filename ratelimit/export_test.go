package ratelimit

import "github.com/rediskit/rediskit/internal/window"

// ForceScript makes l decide every request with the Lua script, as it does
// on a cluster or a server before Redis 7.
func ForceScript(l *FixedWindow) { l.batch = nil }

// Batched reports whether l uses the batched MULTI path for Allow.
func Batched(l *FixedWindow) bool { return l.batch != nil && !l.batch.unsupported.Load() }

var IsUnsupportedNX = window.NXUnsupported
