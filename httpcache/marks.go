package httpcache

import (
	"hash/maphash"
	"sync/atomic"
)

// marks tells whether an event for a key (a fetch finishing, an
// invalidation) happened since a caller took a mark: mark before some work,
// then since after it. Keys share markBuckets counters, so an event of
// another key can answer yes (one needless step), never no. record and
// since run under the owner's lock; mark needs none.
type marks struct {
	seq  atomic.Uint64       // events recorded
	last [markBuckets]uint64 // seq at the last event in each bucket
}

const markBuckets = 256

var markSeed = maphash.MakeSeed()

func markBucket(key string) uint64 { return maphash.String(markSeed, key) % markBuckets }

// mark returns the count of events so far.
func (m *marks) mark() uint64 { return m.seq.Load() }

// record notes an event for key.
func (m *marks) record(key string) { m.last[markBucket(key)] = m.seq.Add(1) }

// recordAll notes an event for every key.
func (m *marks) recordAll() {
	n := m.seq.Add(1)
	for i := range m.last {
		m.last[i] = n
	}
}

// since reports whether an event for key may have happened after mark
// returned at.
func (m *marks) since(key string, at uint64) bool { return m.last[markBucket(key)] > at }
