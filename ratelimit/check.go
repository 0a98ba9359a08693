package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/script"
)

// The checks probe every command of the limiters' scripts (script.Probe
// derives them from the scripts' source) and the plain commands each
// limiter sends besides: GET (Peek), MGET (Multi's Peek) and DEL (Reset).

func (f *fixedWindow) check(ctx context.Context) error {
	err := script.Probe(ctx, f.exec.rdb, f.opts.Namespace, []*script.Script{counterScript}, "get", "del")
	if err == nil && f.batch != nil && !f.batch.unsupported.Load() {
		// The batched path's MULTI/EXEC, on a probe key of its own.
		key := probeKey(f.opts.Namespace, "multi")
		if _, err = f.batch.incr(ctx, key, time.Second); errors.Is(err, errUnsupported) {
			err = nil // an old server: the script, probed above, is the path
		}
		if derr := f.exec.rdb.Del(context.WithoutCancel(ctx), key).Err(); err == nil {
			err = derr
		}
	}
	return err
}

func (m *multi) check(ctx context.Context) error {
	return script.Probe(ctx, m.exec.rdb, m.opts.Namespace, []*script.Script{counterScript}, "mget", "del")
}

func (g *gcra) check(ctx context.Context) error {
	return script.Probe(ctx, g.exec.rdb, g.opts.Namespace, []*script.Script{gcraScript}, "del")
}

// probeKey returns namespace:check:{<random>}:what.
func probeKey(namespace, what string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return core.MakeKey(namespace, "check", "{"+hex.EncodeToString(b[:])+"}", what)
}

// checkError is a failed Check: "ratelimit: check: <command>: <Redis'
// error>", wrapping Redis' error.
type checkError struct{ err error }

func (e checkError) Error() string {
	return "ratelimit: check: " + strings.TrimPrefix(e.err.Error(), "script: check: ")
}

func (e checkError) Unwrap() error { return e.err }
