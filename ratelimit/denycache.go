package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// denyCache remembers keys known to be over their limit until a given
// instant, so repeated requests from an abusive client are answered without
// Redis. It holds at most the size it was made with: a full shard first
// drops expired entries, then refuses new ones (the next denial simply asks
// Redis again). A nil *denyCache caches nothing.
type denyCache struct {
	seed   maphash.Seed
	shards []denyShard
	per    int          // entries per shard; len(shards)*per <= size
	n      atomic.Int64 // entries in all shards: none, and until needs no lock
}

// maxDenyShards bounds lock contention; a cache smaller than this has one
// shard per entry.
const maxDenyShards = 32

type denyShard struct {
	mu sync.Mutex
	m  map[string]denial // redis key -> its denial
}

// denial is one cached denial: until when (unix nanos) and which policy
// denied (Multi's policy index; 0 for the single-policy limiters).
type denial struct {
	until  int64
	policy int
}

func newDenyCache(size int) *denyCache {
	if size < 0 {
		return nil
	}
	n := min(maxDenyShards, max(1, size))
	c := &denyCache{seed: maphash.MakeSeed(), shards: make([]denyShard, n), per: size / n}
	for i := range c.shards {
		c.shards[i].m = make(map[string]denial)
	}
	return c
}

func (c *denyCache) shard(key string) *denyShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// until returns how long key stays denied (0: not denied) and the policy
// that denied it, at the time now returns; an empty cache (no client
// denied: the common case) answers without a lock, a hash or the time.
func (c *denyCache) until(key string, now func() time.Time) (time.Duration, int) {
	if c == nil || c.n.Load() == 0 {
		return 0, 0
	}
	t := now().UnixNano()
	s := c.shard(key)
	s.mu.Lock()
	d, ok := s.m[key]
	if ok && d.until <= t {
		delete(s.m, key)
		c.n.Add(-1)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return 0, 0
	}
	return time.Duration(d.until - t), d.policy
}

// deny records that policy denies key for d.
func (c *denyCache) deny(key string, now time.Time, d time.Duration, policy int) {
	if c == nil || d <= 0 || c.per == 0 {
		return
	}
	s := c.shard(key)
	entry := denial{until: now.Add(d).UnixNano(), policy: policy}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found := s.m[key]
	if !found && len(s.m) >= c.per {
		n := now.UnixNano()
		for k, v := range s.m {
			if v.until <= n {
				delete(s.m, k)
				c.n.Add(-1)
			}
		}
		if len(s.m) >= c.per {
			return
		}
	}
	s.m[key] = entry
	if !found {
		c.n.Add(1)
	}
}

// forget drops key.
func (c *denyCache) forget(key string) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if _, ok := s.m[key]; ok {
		delete(s.m, key)
		c.n.Add(-1)
	}
	s.mu.Unlock()
}
