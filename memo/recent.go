package memo

import (
	"hash/maphash"
	"reflect"
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
//
// The table relies on == between keys meaning the same entry. For key
// types where it does not (floats: 0 == -0, yet their keys differ;
// interfaces: == panics on a slice inside; pointers and channels, which a
// key function given to WrapKey renders from what they point to, equal
// while that changes), it is off: every Get renders its key, and the reads
// in flight are kept by slot of the hash of the entry key instead.
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
	off   bool         // set by Wrap: K's == is not its keys' identity
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

// keyIndex is the slot number of the entry key key, when the table is off.
func (t *recentTable[K, V]) keyIndex(key string) int {
	return int(maphash.String(t.seed, key) >> (64 - recentBits))
}

// slotOf returns the slot number of k, whose entry key is key.
func (t *recentTable[K, V]) slotOf(k K, key string) int {
	if t.off {
		return t.keyIndex(key)
	}
	return t.index(k)
}

// find returns k's slot number and what the table holds for k, or nil;
// the slot number is -1 when the table is off (see slotOf).
func (t *recentTable[K, V]) find(k K) (int, *recent[K, V]) {
	if t.off {
		return -1, nil
	}
	i := t.index(k)
	if r := t.slot(i).Load(); r != nil && r.k == k {
		return i, r
	}
	return i, nil
}

// store keeps r in slot i, r.k's (nothing when the table is off).
func (t *recentTable[K, V]) store(i int, r *recent[K, V]) {
	if !t.off {
		t.slot(i).Store(r)
	}
}

// exactEquality reports whether == between values of type t holds exactly
// when they render the same key, which no float, complex, interface
// (possibly holding an uncomparable value), pointer or channel inside t
// guarantees.
func exactEquality(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.Interface,
		reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		return false
	case reflect.Array:
		return exactEquality(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !exactEquality(t.Field(i).Type) {
				return false
			}
		}
	}
	return true
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
