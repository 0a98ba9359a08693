package httpcache

import (
	"context"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/call"
)

// getReq is one entry read of a batch: the GET of key, and its reply
// (val, or err: redis.Nil when there is no such string).
type getReq struct {
	key string
	val string
	err error
}

// getIndex is a batch's scratch space: the GET of each distinct key.
type getIndex map[string]*redis.StringCmd

// newGets returns the batcher of c's entry reads on a standalone (or
// Sentinel) client, nil on any other: the lookups of concurrent requests
// share one round trip, a pipeline with one GET per distinct key (a hot
// URL's concurrent hits read it once); a lookup that finds no lookup
// waiting is sent at once by its caller while fewer than GOMAXPROCS are
// (aloneLookups). A lookup waits at most Timeout or its
// request budget, and is detached: it ends at its deadline, not when the
// client goes away (go-redis would not stop the socket read either).
// Beyond batch.DefaultMaxQueued waiting lookups, a lookup fails at once
// (the handler serves the request, as when Redis fails). A batch runs with
// a context of its own: go-redis hooks (tracing) see the request's context
// only on a lookup sent alone.
//
// A cluster client's lookups are not batched: a pipeline waits for every
// node it spans, so one stalled master would hold up the lookups of keys
// on the healthy ones.
func (c *Cache) newGets() *batch.Batcher[getReq, getIndex] {
	rdb, ok := c.c.Redis().(*redis.Client)
	if !ok {
		return nil
	}
	return batch.New(batch.Options{Timeout: c.opts.Timeout, Wait: c.wait, Detached: true,
		Alone: aloneLookups(rdb)},
		func(ctx context.Context, reqs []*batch.Pending[getReq], s *getIndex) {
			if len(reqs) == 1 { // alone: one GET, no pipeline
				p := &reqs[0].Req
				p.val, p.err = rdb.Get(ctx, p.key).Result()
				return
			}
			if *s == nil {
				*s = getIndex{}
			}
			index := *s
			_, _ = rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, p := range reqs {
					if _, ok := index[p.Req.key]; !ok {
						index[p.Req.key] = pipe.Get(ctx, p.Req.key)
					}
				}
				return nil
			})
			for _, p := range reqs {
				p.Req.val, p.Req.err = index[p.Req.key].Result()
			}
			clear(index)
		})
}

// aloneLookups is how many lookups of rdb may be sent at once without
// batching (batch.Options.Alone): as many as there are CPUs to run them
// (beyond, batching saves CPU), none with a client that would not bound
// them by their deadline.
func aloneLookups(rdb *redis.Client) int {
	if !call.Honoured(rdb) {
		return 0
	}
	return runtime.GOMAXPROCS(0)
}

// get reads the string at key, through c's batcher when it has one, from
// start: ("", redis.Nil) when there is none, a WRONGTYPE error when key
// holds another type.
func (c *Cache) get(ctx context.Context, key string, start time.Time) (string, error) {
	if c.gets == nil {
		rctx := call.Start(ctx, start, c.opts.Timeout, c.wait)
		defer rctx.End()
		return c.c.Redis().Get(rctx, key).Result()
	}
	p := c.gets.Get()
	defer c.gets.Release(p)
	p.Req.key = key
	if err := c.gets.Do(ctx, p); err != nil {
		return "", err
	}
	return p.Req.val, p.Req.err
}
