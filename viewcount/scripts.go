package viewcount

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/call"
	"github.com/rediskit/rediskit/internal/script"
)

// directScript records one view of one item. KEYS: seen, total, uniq, day,
// then zero or more ranking keys. ARGV: dedup window in ms (0: off), visitor
// digest, day TTL in s, ranking member, then one TTL in s per ranking key.
// Returns 1 when the view counted, 0 for a repeat inside the window.
var directScript = script.New(`
if ARGV[1] ~= '0' and not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
redis.call('INCRBY', KEYS[2], 1)
redis.call('PFADD', KEYS[3], ARGV[2])
redis.call('INCRBY', KEYS[4], 1)
redis.call('EXPIRE', KEYS[4], ARGV[3])
for i = 5, #KEYS do
  redis.call('ZINCRBY', KEYS[i], 1, ARGV[4])
  redis.call('EXPIRE', KEYS[i], ARGV[i])
end
return 1
`)

// rankScript is the ranking half of a direct view on a cluster, where the
// ranking keys live in another slot: it keeps its own dedup key in the
// ranking slot. KEYS: seen, ranking keys. ARGV: window ms (0: off), member,
// one TTL in s per ranking key.
var rankScript = script.New(`
if ARGV[1] ~= '0' and not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
for i = 2, #KEYS do
  redis.call('ZINCRBY', KEYS[i], 1, ARGV[2])
  redis.call('EXPIRE', KEYS[i], ARGV[i + 1])
end
return 1
`)

// flushItemsScript applies one chunk of a batch for items of one slot, once.
// KEYS: marker, then per entry total, uniq, day, bots and (dedup on) one
// seen key per visitor. ARGV: window ms (0: off), marker TTL s, day TTL s,
// then per entry: visitor count, bots, then per visitor: digest, views.
// Returns the views counted per entry as "n1,n2,..."; a chunk whose marker
// exists was applied before and returns the stored result unchanged (it
// refreshes the marker's TTL: a write, so a WAIT sent after it on the same
// connection also covers the first apply, whichever connection sent it).
var flushItemsScript = script.New(`
local done = redis.call('GET', KEYS[1])
if done then
  redis.call('EXPIRE', KEYS[1], ARGV[2]) -- a write: a WAIT after it covers the first apply
  return done
end
local win = tonumber(ARGV[1])
local k, a, out = 2, 4, {}
while a <= #ARGV do
  local nv, bots = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local tk, uk, dk, bk = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  k = k + 4
  local counted, els = 0, {}
  for i = 1, nv do
    if win > 0 then
      if redis.call('SET', KEYS[k], '1', 'NX', 'PX', win) then counted = counted + 1 end
      k = k + 1
    else
      counted = counted + tonumber(ARGV[a + 1])
    end
    els[#els + 1] = ARGV[a]
    a = a + 2
    if #els == 500 then redis.call('PFADD', uk, unpack(els)); els = {} end
  end
  if #els > 0 then redis.call('PFADD', uk, unpack(els)) end
  if counted > 0 then
    redis.call('INCRBY', tk, counted)
    redis.call('INCRBY', dk, counted)
    redis.call('EXPIRE', dk, ARGV[3])
  end
  if bots > 0 then redis.call('INCRBY', bk, bots) end
  out[#out + 1] = counted
end
local res = table.concat(out, ',')
redis.call('SET', KEYS[1], res, 'EX', ARGV[2])
return res
`)

// flushRankScript applies one chunk of a batch's ranking increments, once.
// KEYS: marker, ranking keys. ARGV: marker TTL s, then per ranking key: TTL
// s, pair count, then per pair: member, amount. Returns 1, or 0 when the
// marker shows the chunk was applied before (refreshing its TTL, as
// flushItemsScript does).
var flushRankScript = script.New(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1]) -- a write: a WAIT after it covers the first apply
  return 0
end
local a = 2
for k = 2, #KEYS do
  local ttl, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  for i = 1, n do
    redis.call('ZINCRBY', KEYS[k], ARGV[a + 1], ARGV[a])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[k], ttl)
end
return 1
`)

// scriptCall is one script invocation of a pipeline.
type scriptCall struct {
	script *script.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	once   bool // not idempotent: go-redis must not resend it (call.NoRetry)
}

// process queues the call on p: EVALSHA, marked NoRetry when once.
func (c *scriptCall) process(ctx context.Context, p redis.Pipeliner) {
	args := make([]any, 0, 3+len(c.keys)+len(c.args))
	args = append(args, "evalsha", c.script.Hash(), len(c.keys))
	for _, k := range c.keys {
		args = append(args, k)
	}
	c.cmd = redis.NewCmd(ctx, append(args, c.args...)...)
	if !c.once {
		_ = p.Process(ctx, c.cmd)
		return
	}
	// After a network error its reply is lost but Redis may have applied
	// it: a resend would count it twice.
	_ = p.Process(ctx, call.NoRetry{Cmder: c.cmd})
}

// runScripts sends calls as one pipeline of EVALSHA: one round trip on a
// standalone server, one per node involved (sent concurrently) on a cluster.
// When a server does not know a script (first use, or after a restart), all
// scripts are loaded on every node (SCRIPT LOAD, broadcast on a cluster) and
// the calls that missed are sent again: a few more round trips, once. It
// returns the number of commands sent and the first error of any call.
//
// With w, each pipeline ends with WAIT w.replicas w.timeout on the same
// connection (a standalone server or a Sentinel master only); its error, an
// ErrNotReplicated when fewer replicas acknowledged, is returned as waitErr
// (err stays the scripts' own).
func runScripts(ctx context.Context, rdb redis.UniversalClient, calls []*scriptCall, w *waitArgs) (sent int, err, waitErr error) {
	if cc, ok := rdb.(*redis.ClusterClient); ok && w != nil {
		return runScriptsPerMaster(ctx, cc, calls, w)
	}
	pipe := func(cs []*scriptCall) {
		var wc *redis.IntCmd
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range cs {
				c.process(ctx, p)
			}
			if w != nil {
				wc = redis.NewIntCmd(ctx, "wait", w.replicas, w.timeout.Milliseconds())
				_ = p.Process(ctx, wc)
			}
			return nil
		})
		if wc != nil {
			sent++
			if waitErr == nil {
				waitErr = w.check(wc)
			}
		}
	}
	pipe(calls)
	sent += len(calls)
	var again []*scriptCall
	for _, c := range calls {
		if isNoScript(c.cmd.Err()) {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		for _, s := range allScripts {
			sent++
			if err := rdb.ScriptLoad(ctx, s.Source()).Err(); err != nil {
				return sent, err, waitErr
			}
		}
		pipe(again)
		sent += len(again)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return sent, err, waitErr
		}
	}
	return sent, nil, waitErr
}

// runScriptsPerMaster is runScripts with WAIT on a cluster: WAIT covers the
// writes of its own connection, so the calls are grouped by the master of
// their first key and each group is one pipeline, ending with WAIT, on
// that master's connection (the groups sent concurrently). A call whose
// slot moved fails (MOVED) and the cluster's slot map is reloaded: the
// flush is retried with the new map.
func runScriptsPerMaster(ctx context.Context, cc *redis.ClusterClient, calls []*scriptCall, w *waitArgs) (sent int, err, waitErr error) {
	groups := map[*redis.Client][]*scriptCall{}
	for _, c := range calls {
		node, nerr := cc.MasterForKey(ctx, c.keys[0])
		if nerr != nil {
			return sent, nerr, nil
		}
		groups[node] = append(groups[node], c)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for node, cs := range groups {
		wg.Go(func() {
			n, e, we := runScripts(ctx, node, cs, w)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			if err == nil {
				err = e
			}
			if waitErr == nil {
				waitErr = we
			}
		})
	}
	wg.Wait()
	if err != nil {
		cc.ReloadState(ctx)
	}
	return sent, err, waitErr
}

// waitArgs is the WAIT a durable flush sends after its scripts.
type waitArgs struct {
	replicas int
	timeout  time.Duration
}

// check turns WAIT's reply into an error unless enough replicas
// acknowledged.
func (w *waitArgs) check(cmd *redis.IntCmd) error {
	n, err := cmd.Result()
	switch {
	case err != nil:
		return fmt.Errorf("%w: WAIT: %w", ErrNotReplicated, err)
	case n < int64(w.replicas):
		return fmt.Errorf("%w: %d of %d replicas acknowledged within %v", ErrNotReplicated, n, w.replicas, w.timeout)
	}
	return nil
}

// allScripts are every script a Counter runs; Check probes their commands.
var allScripts = []*script.Script{directScript, rankScript, flushItemsScript, flushRankScript}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}
