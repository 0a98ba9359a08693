package memo

import (
	"hash/maphash"
	"sync/atomic"
)

// The entries a Func read last are kept in a table of recentSlots slots,
// one per key by hash of K (a key whose slot another key took is read as
// if never seen). A slot holds the key's Redis key, built once per
// generation, and the decoding of the bytes last read under it, reused
// while Redis (or L1) returns exactly those bytes again: a warm hit neither
// builds its key nor decodes its entry. Entries longer than maxRecentBytes
// keep their key only, so the table holds at most about recentSlots ×
// maxRecentBytes of entries and their decodings.
const (
	recentBits     = 12
	recentSlots    = 1 << recentBits
	maxRecentBytes = 8 << 10
)

// recent is one slot's content. It is never modified once stored.
type recent[K comparable, V any] struct {
	k   K
	gen int64
	key string       // entryKey(gen, keyOf(k))
	arg any          // key, converted to an interface once, for go-redis's command arguments
	raw string       // the entry's bytes as last read; "" when not kept
	env *envelope[V] // their decoding; nil when not kept
}

// recentTable is a Func's table of recent entries, allocated at its first
// use.
type recentTable[K comparable, V any] struct {
	seed  maphash.Seed // set by Wrap
	slots atomic.Pointer[[recentSlots]atomic.Pointer[recent[K, V]]]
}

// index returns k's slot number.
func (t *recentTable[K, V]) index(k K) int {
	var h uint64
	if n, ok := intValue(k); ok {
		h = n * 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of n
	} else {
		h = maphash.Comparable(t.seed, k)
	}
	return int(h >> (64 - recentBits))
}

func (t *recentTable[K, V]) slot(i int) *atomic.Pointer[recent[K, V]] {
	slots := t.slots.Load()
	if slots == nil {
		slots = new([recentSlots]atomic.Pointer[recent[K, V]])
		if !t.slots.CompareAndSwap(nil, slots) {
			slots = t.slots.Load()
		}
	}
	return &slots[i]
}

// find returns k's slot number and what the table holds for k, or nil.
func (t *recentTable[K, V]) find(k K) (int, *recent[K, V]) {
	i := t.index(k)
	if r := t.slot(i).Load(); r != nil && r.k == k {
		return i, r
	}
	return i, nil
}

// store keeps r in slot i, r.k's.
func (t *recentTable[K, V]) store(i int, r *recent[K, V]) {
	t.slot(i).Store(r)
}

// intValue is k's bits when K is one of the integer types appendIntKey
// renders.
func intValue[K comparable](k K) (uint64, bool) {
	switch v := any(k).(type) {
	case int:
		return uint64(v), true
	case int64:
		return uint64(v), true
	case int32:
		return uint64(v), true
	case uint64:
		return v, true
	case uint:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	}
	return 0, false
}
