package viewcount

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rediskit/rediskit/core"
)

// Chunk bounds keep each flush script short enough not to stall Redis.
const (
	maxChunkEntries  = 256
	maxChunkVisitors = 4096
	maxChunkPairs    = 4096
)

// plan is how a batch is sent; built once so retries are identical.
type plan struct {
	items   []*chunk // built on the first attempt
	rank    []*chunk // built once every item chunk is applied
	counted map[aggKey]int64
}

// chunk is one script call of a flush.
type chunk struct {
	call    *scriptCall
	entries []aggKey // item chunks: one per entry of the script, in order
	views   int64    // item chunks: the visitors' views the chunk sends
	counted bool     // its reply was recorded (Redis applied it)
	done    bool     // applied and, with WaitReplicas, replicated
}

// apply sends bt: first the item chunks (one script per slot and chunk),
// then, from the views they counted, the ranking chunks. Chunks applied
// before are not sent again. It returns the number of commands sent.
func (c *Counter) apply(ctx context.Context, bt *batch) (int, error) {
	if bt.plan == nil {
		bt.plan = &plan{items: c.planItems(bt)}
	}
	p := bt.plan
	sent, err := c.runChunks(ctx, p.items, func(ch *chunk) error {
		counted, err := p.record(ch)
		if err == nil {
			c.stats.counted.Add(counted)
			c.stats.deduplicated.Add(ch.views - counted)
		}
		return err
	})
	if err != nil {
		return sent, err
	}
	if p.rank == nil {
		p.rank = c.planRank(bt)
	}
	n, err := c.runChunks(ctx, p.rank, func(*chunk) error { return nil })
	return sent + n, err
}

// runChunks sends the chunks not yet done in one pipeline, and marks done
// those that succeeded (after done accepts their reply). With WaitReplicas,
// a chunk is done only once WAIT confirmed its replication; until then it is
// sent again (its marker makes that a no-op but for the marker's TTL, a
// write the next WAIT then covers) and its reply is recorded only once.
func (c *Counter) runChunks(ctx context.Context, chunks []*chunk, done func(*chunk) error) (int, error) {
	var calls []*scriptCall
	var todo []*chunk
	for _, ch := range chunks {
		if !ch.done {
			calls, todo = append(calls, ch.call), append(todo, ch)
		}
	}
	if len(calls) == 0 {
		return 0, nil
	}
	sent, err, waitErr := runScripts(ctx, c.rdb, calls, c.waitArgs)
	for _, ch := range todo {
		if ch.call.cmd.Err() == nil {
			if !ch.counted {
				if derr := done(ch); derr != nil {
					return sent, derr
				}
				ch.counted = true
			}
			ch.done = waitErr == nil
		}
	}
	if err == nil {
		err = waitErr
	}
	return sent, err
}

// record adds the views an item chunk counted, "n1,n2,..." per entry, and
// returns their sum.
func (p *plan) record(ch *chunk) (int64, error) {
	v, err := ch.call.cmd.Result()
	if err != nil {
		return 0, err
	}
	// A one-entry result may arrive as an integer: table.concat of one
	// number is a number for some Lua engines (miniredis' gopher-lua).
	var res string
	switch v := v.(type) {
	case string:
		res = v
	case int64:
		res = strconv.FormatInt(v, 10)
	default:
		return 0, fmt.Errorf("flush script returned %T, want a string", v)
	}
	parts := strings.Split(res, ",")
	if len(parts) != len(ch.entries) {
		return 0, fmt.Errorf("flush script returned %d counts for %d entries", len(parts), len(ch.entries))
	}
	ns := make([]int64, len(parts))
	for i, s := range parts {
		if ns[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("flush script result %q: %w", res, err)
		}
	}
	if p.counted == nil {
		p.counted = make(map[aggKey]int64)
	}
	var sum int64
	for i, n := range ns {
		p.counted[ch.entries[i]] += n
		sum += n
	}
	return sum, nil
}

// planItems groups the batch's items by slot (on a cluster) and cuts each
// group into chunks; an item with many visitors spans several entries.
func (c *Counter) planItems(bt *batch) []*chunk {
	ks := make([]aggKey, 0, len(bt.aggs))
	for k := range bt.aggs {
		ks = append(ks, k)
	}
	group := func(k aggKey) int {
		if c.c.IsCluster() {
			return core.Slot(c.keys.item(k.item).total())
		}
		return 0
	}
	slices.SortFunc(ks, func(a, b aggKey) int {
		if d := group(a) - group(b); d != 0 {
			return d
		}
		if d := strings.Compare(a.item, b.item); d != 0 {
			return d
		}
		return int(a.time) - int(b.time)
	})
	var out []*chunk
	var cur *chunk
	visitors, lastGroup := 0, -1
	for _, k := range ks {
		a := bt.aggs[k]
		ds := make([][16]byte, 0, len(a.visitors))
		for d := range a.visitors {
			ds = append(ds, d)
		}
		bots := a.bots
		for first := true; first || len(ds) > 0; first = false {
			if cur == nil || group(k) != lastGroup || len(cur.entries) >= maxChunkEntries || visitors >= maxChunkVisitors {
				cur = c.newItemChunk(bt, k, len(out))
				out, visitors, lastGroup = append(out, cur), 0, group(k)
			}
			n := min(len(ds), maxChunkVisitors-visitors)
			c.addEntry(cur, bt, k, a, ds[:n], bots)
			ds, bots, visitors = ds[n:], 0, visitors+n
		}
	}
	return out
}

func (c *Counter) newItemChunk(bt *batch, k aggKey, idx int) *chunk {
	marker := c.keys.item(k.item).marker(bt.id + "." + strconv.Itoa(idx))
	return &chunk{call: &scriptCall{script: flushItemsScript,
		keys: []string{marker},
		args: []any{c.opts.DedupWindow.Milliseconds(), int64(c.opts.MarkerTTL / time.Second), int64(c.opts.Retention / time.Second)},
	}}
}

func (c *Counter) addEntry(ch *chunk, bt *batch, k aggKey, a *agg, ds [][16]byte, bots int64) {
	ik := c.keys.item(k.item)
	sc := ch.call
	sc.keys = append(sc.keys, ik.total(), ik.unique(), ik.day(bt.times[k.time].day), ik.bots())
	sc.args = append(sc.args, len(ds), bots)
	for _, d := range ds {
		vis := hex.EncodeToString(d[:])
		if c.opts.DedupWindow > 0 {
			sc.keys = append(sc.keys, ik.seen(vis))
		}
		sc.args = append(sc.args, vis, a.visitors[d])
		ch.views += a.visitors[d]
	}
	ch.entries = append(ch.entries, k)
}

// planRank turns the counted views into ZINCRBYs per ranking key, in
// chunks of at most maxChunkPairs pairs, all in the {top} slot.
func (c *Counter) planRank(bt *batch) []*chunk {
	type rk struct {
		period int
		bucket int64
	}
	incr := map[rk]map[string]int64{}
	for k, n := range bt.plan.counted {
		for i := range c.opts.Periods {
			if n == 0 {
				break
			}
			r := rk{i, bt.times[k.time].rank[i]}
			if incr[r] == nil {
				incr[r] = map[string]int64{}
			}
			incr[r][k.item] += n
		}
	}
	rks := make([]rk, 0, len(incr))
	for r := range incr {
		rks = append(rks, r)
	}
	slices.SortFunc(rks, func(a, b rk) int {
		return cmp.Or(cmp.Compare(a.period, b.period), cmp.Compare(a.bucket, b.bucket))
	})
	var out []*chunk
	var cur *chunk
	pairs := 0
	for _, r := range rks {
		members := make([]string, 0, len(incr[r]))
		for m := range incr[r] {
			members = append(members, m)
		}
		slices.Sort(members)
		for len(members) > 0 {
			if cur == nil || pairs >= maxChunkPairs {
				marker := c.keys.rankMarker(bt.id + ".r" + strconv.Itoa(len(out)))
				cur = &chunk{call: &scriptCall{script: flushRankScript, keys: []string{marker},
					args: []any{int64(c.opts.MarkerTTL / time.Second)}}}
				out, pairs = append(out, cur), 0
			}
			n := min(len(members), maxChunkPairs-pairs)
			p := c.opts.Periods[r.period]
			cur.call.keys = append(cur.call.keys, c.keys.rank(p, r.bucket))
			cur.call.args = append(cur.call.args, rankTTL(p), n)
			for _, m := range members[:n] {
				cur.call.args = append(cur.call.args, m, incr[r][m])
			}
			members, pairs = members[n:], pairs+n
		}
	}
	return out
}
