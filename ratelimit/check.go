package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// Check runs, once, every Redis command the limiter uses on a probe key
// under its Prefix (expiring within seconds, deleted at the end), so a
// missing ACL permission or an unreachable server is reported at start-up
// instead of on the first request. Call it after NewFixedWindow; the error
// ("ratelimit: check: …") wraps Redis' own, which for a missing permission
// is a NOPERM error naming the command. Check consumes no client's quota.
func (l *FixedWindow) Check(ctx context.Context) error {
	keys := probeKeys(l.opts.Prefix, "fw", 1)
	err := probeCommands(ctx, l.exec, keys[0], counterCommands)
	if err == nil && l.batch != nil && !l.batch.unsupported.Load() {
		if _, err = l.batch.incr(ctx, keys[0], time.Second, l.opts.Timeout); errors.Is(err, errUnsupported) {
			err = nil // an old server: the script below is the path
		}
	}
	if err == nil {
		_, _, err = runCounter(ctx, l.exec, keys, 1, []int{l.opts.Limit}, []time.Duration{time.Second})
	}
	return probeEnd(ctx, l.exec, keys, err)
}

// Check is FixedWindow.Check for a Multi limiter.
func (m *Multi) Check(ctx context.Context) error {
	keys := probeKeys(m.opts.Prefix, "multi", len(m.opts.Policies))
	err := probeCommands(ctx, m.exec, keys[0], counterCommands)
	if err == nil {
		limits := make([]int, len(keys))
		ttls := make([]time.Duration, len(keys))
		for i, p := range m.opts.Policies {
			limits[i], ttls[i] = p.Limit, time.Second
		}
		_, _, err = runCounter(ctx, m.exec, keys, 1, limits, ttls)
	}
	return probeEnd(ctx, m.exec, keys, err)
}

// Check is FixedWindow.Check for a GCRA limiter: it runs a decision and a
// Peek on a probe key, then deletes it.
func (g *GCRA) Check(ctx context.Context) error {
	keys := probeKeys(g.opts.Prefix, "gcra", 1)
	err := probeCommands(ctx, g.exec, keys[0], gcraCommands)
	if err == nil {
		_, err = g.rl.AllowN(ctx, keys[0], g.limit, 1)
	}
	if err == nil {
		_, err = g.rl.AllowN(ctx, keys[0], g.limit, 0)
	}
	return probeEnd(ctx, g.exec, keys, err)
}

// probeKeys returns n keys <prefix>:check:{<random>}:<kind>:<i>, one slot.
func probeKeys(prefix, kind string, n int) []string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	tag := "{check-" + hex.EncodeToString(b[:]) + "}"
	keys := make([]string, n)
	for i := range keys {
		keys[i] = core.MakeKey(prefix, "check", tag, kind, fmt.Sprint(i))
	}
	return keys
}

// The commands each limiter sends, alone or from its scripts: each is run
// once on the probe key (KEY), so a missing permission is reported with the
// command's name (an error inside a script does not name it). EVAL runs a
// script touching nothing: the scripts fall back to it when the server lost
// them (a restart).
var (
	counterCommands = [][]any{{"eval", "return 1", 1, "KEY"}, {"incrby", "KEY", 1},
		{"pexpire", "KEY", 1000}, {"pttl", "KEY"}}
	gcraCommands = [][]any{{"eval", "return 1", 1, "KEY"}, {"set", "KEY", 1, "ex", 1}, {"time"}}
)

func probeCommands(ctx context.Context, e *executor, key string, cmds [][]any) error {
	for _, c := range cmds {
		args := append([]any(nil), c...)
		for i, a := range args {
			if a == "KEY" {
				args[i] = key
			}
		}
		if err := e.do(ctx, redis.NewCmd(ctx, args...)); err != nil {
			return err
		}
	}
	return nil
}

// probeEnd reads the probe keys as Peek does (GET, MGET), deletes them, and
// wraps the first error.
func probeEnd(ctx context.Context, e *executor, keys []string, err error) error {
	if err == nil {
		if err = e.do(ctx, redis.NewStringCmd(ctx, "get", keys[0])); errors.Is(err, redis.Nil) {
			err = nil
		}
	}
	if err == nil {
		args := []any{"mget"}
		for _, k := range keys {
			args = append(args, k)
		}
		err = e.do(ctx, redis.NewSliceCmd(ctx, args...))
	}
	args := []any{"del"}
	for _, k := range keys {
		args = append(args, k)
	}
	if derr := e.do(ctx, redis.NewIntCmd(ctx, args...)); err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("ratelimit: check: %w", err)
	}
	return nil
}
