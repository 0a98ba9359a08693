package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// fallback is the in-memory limiter a RedisLimiter with
// Options.LocalFallback decides with while Redis fails: the same policy
// (fixed windows, several for Multi, or GCRA), applied by this process
// alone. It holds at most size keys: a full shard drops the entries that
// no longer limit anything, then an arbitrary one (that key's count
// restarts: the fail-open direction).
type fallback struct {
	seed    maphash.Seed
	shards  []fallbackShard
	per     int
	windows []Policy // fixed windows (NewFixedWindow: one; NewMulti: several)
	// GCRA (windows empty): one unit every emission, at most burst at once.
	emission time.Duration
	burst    int
	policy   string
	period   time.Duration
}

type fallbackShard struct {
	mu sync.Mutex
	m  map[string]*fallbackEntry
}

// fallbackEntry is one key's local state: per fixed window its window
// number and count, or the GCRA's theoretical arrival time (unix nanos).
type fallbackEntry struct {
	win     []int64
	count   []int
	tat     int64
	expires int64 // unix nanos after which the entry limits nothing
}

// newFallback returns the fallback of a limiter of alg's kind, or nil when
// opts does not ask for one.
func newFallback(opts *Options, alg algorithm) *fallback {
	if !opts.LocalFallback {
		return nil
	}
	size := opts.LocalFallbackSize
	if size <= 0 {
		size = defaultDenyCacheSize
	}
	n := min(maxDenyShards, size)
	f := &fallback{seed: maphash.MakeSeed(), shards: make([]fallbackShard, n), per: max(1, size/n)}
	for i := range f.shards {
		f.shards[i].m = make(map[string]*fallbackEntry)
	}
	switch alg.(type) {
	case *multi:
		f.windows = opts.Policies
	case *gcra:
		f.emission = max(1, opts.Window/time.Duration(opts.Limit))
		f.burst, f.policy, f.period = opts.Burst, opts.Policy, opts.Window
	default:
		f.windows = []Policy{{Name: opts.Policy, Limit: opts.Limit, Window: opts.Window}}
	}
	return f
}

// entry returns key's entry, making room for it if needed; the shard is
// locked on return.
func (f *fallback) entry(key string, now int64) (*fallbackShard, *fallbackEntry) {
	s := &f.shards[maphash.String(f.seed, key)%uint64(len(f.shards))]
	s.mu.Lock()
	e := s.m[key]
	if e != nil && e.expires <= now {
		e.tat = 0
		for i := range e.count {
			e.count[i] = 0
		}
	}
	if e == nil {
		if len(s.m) >= f.per {
			for k, v := range s.m {
				if v.expires <= now {
					delete(s.m, k)
				}
			}
			for k := range s.m {
				if len(s.m) < f.per {
					break
				}
				delete(s.m, k)
			}
		}
		e = &fallbackEntry{win: make([]int64, len(f.windows)), count: make([]int, len(f.windows))}
		s.m[key] = e
	}
	return s, e
}

// allowN decides n units of key at now, like the Redis algorithm would
// with this process as its only client.
func (f *fallback) allowN(key string, n int, now time.Time) Result {
	ns := now.UnixNano()
	s, e := f.entry(key, ns)
	defer s.mu.Unlock()
	if len(f.windows) == 0 {
		return f.gcra(e, n, ns)
	}
	left := make([]time.Duration, len(f.windows))
	for i, p := range f.windows {
		w := ns / int64(p.Window)
		left[i] = time.Duration((w+1)*int64(p.Window) - ns)
		if e.win[i] != w {
			e.win[i], e.count[i] = w, 0
		}
	}
	result := func(i int) Result {
		p := f.windows[i]
		return Result{Limit: p.Limit, Remaining: max(0, p.Limit-e.count[i]), ResetAfter: left[i], Policy: p.Name, Window: p.Window}
	}
	for i, p := range f.windows {
		if e.count[i]+n > p.Limit {
			res := result(i)
			res.RetryAfter = left[i]
			return res
		}
	}
	best := -1
	for i := range f.windows {
		e.count[i] += n
		e.expires = max(e.expires, ns+int64(left[i]))
		if best < 0 || f.windows[i].Limit-e.count[i] < f.windows[best].Limit-e.count[best] {
			best = i
		}
	}
	res := result(best)
	res.Allowed = true
	return res
}

// gcra is redis_rate's script in memory.
func (f *fallback) gcra(e *fallbackEntry, n int, now int64) Result {
	res := Result{Limit: f.burst, Policy: f.policy, Window: f.period}
	em := int64(f.emission)
	tat := max(e.tat, now)
	newTat := tat + int64(n)*em
	diff := now - (newTat - int64(f.burst)*em)
	if diff < 0 {
		res.ResetAfter = time.Duration(tat - now)
		res.RetryAfter = max(time.Millisecond, time.Duration(-diff))
		return res
	}
	e.tat, e.expires = newTat, newTat
	res.Allowed = true
	res.Remaining = int(diff / em)
	res.ResetAfter = time.Duration(newTat - now)
	return res
}

// forget drops key.
func (f *fallback) forget(key string) {
	if f == nil {
		return
	}
	s := &f.shards[maphash.String(f.seed, key)%uint64(len(f.shards))]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}
