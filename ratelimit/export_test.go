package ratelimit

// ForceScript makes l decide every request with the Lua script, as it does
// on a cluster or a server before Redis 7.
func ForceScript(l *FixedWindow) { l.batch = nil }

// MarkUnsupported makes l behave as after detecting a server without
// PEXPIRE NX.
func MarkUnsupported(l *FixedWindow) {
	if l.batch != nil {
		l.batch.unsupported.Store(true)
	}
}

// Batched reports whether l uses the batched MULTI path for Allow.
func Batched(l *FixedWindow) bool { return l.batch != nil && !l.batch.unsupported.Load() }

var IsUnsupportedNX = isUnsupportedNX
