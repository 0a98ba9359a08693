package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// denyCache remembers keys known to be over their limit until a given
// instant, so repeated requests from an abusive client are answered without
// Redis. It is bounded: a full shard first drops expired entries, then
// refuses new ones (the next denial simply asks Redis again). A nil
// *denyCache caches nothing.
type denyCache struct {
	seed   maphash.Seed
	shards [denyShards]denyShard
	per    int // entries per shard
}

const denyShards = 32

type denyShard struct {
	mu sync.Mutex
	m  map[string]int64 // redis key -> unix nanos until which it is denied
}

func newDenyCache(size int) *denyCache {
	if size < 0 {
		return nil
	}
	c := &denyCache{seed: maphash.MakeSeed(), per: max(1, size/denyShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]int64)
	}
	return c
}

func (c *denyCache) shard(key string) *denyShard {
	return &c.shards[maphash.String(c.seed, key)%denyShards]
}

// until returns how long key stays denied, or 0.
func (c *denyCache) until(key string, now time.Time) time.Duration {
	if c == nil {
		return 0
	}
	s := c.shard(key)
	s.mu.Lock()
	t, ok := s.m[key]
	if ok && t <= now.UnixNano() {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return 0
	}
	return time.Duration(t - now.UnixNano())
}

// deny records that key is denied for d.
func (c *denyCache) deny(key string, now time.Time, d time.Duration) {
	if c == nil || d <= 0 {
		return
	}
	s := c.shard(key)
	t := now.Add(d).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.per {
		n := now.UnixNano()
		for k, v := range s.m {
			if v <= n {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.per {
			return
		}
	}
	s.m[key] = t
}

// forget drops key.
func (c *denyCache) forget(key string) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}
