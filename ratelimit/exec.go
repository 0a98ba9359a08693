package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// executor runs single commands through go-redis' deferred auto-pipeliner,
// so concurrent decisions share pipelines, and bounds the caller's wait by a
// timeout. The auto-pipeliner ignores per-command contexts once a command is
// queued, so the bound is enforced here, on the waiting side
// (AutoFuture.WaitContext): a timed-out command may still run later.
type executor struct {
	rdb     redis.UniversalClient
	ap      *redis.AutoPipeliner // nil: plain client with a context deadline
	timeout time.Duration
}

func newExecutor(rdb redis.UniversalClient, timeout time.Duration) *executor {
	e := &executor{rdb: rdb, timeout: timeout}
	var err error
	switch r := rdb.(type) {
	case *redis.Client:
		e.ap, err = r.AsyncAutoPipeline()
	case *redis.ClusterClient:
		e.ap, err = r.AsyncAutoPipeline()
	}
	if err != nil {
		e.ap = nil // an invalid AutoPipelineOptions on the client: go unpipelined
	}
	return e
}

// do runs cmd and waits at most e.timeout (or until ctx is done).
func (e *executor) do(ctx context.Context, cmd redis.Cmder) error {
	tctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	var err error
	if e.ap == nil {
		_ = e.rdb.Process(tctx, cmd)
		err = cmd.Err()
	} else {
		err = e.ap.Submit(tctx, cmd).WaitContext(tctx)
	}
	return e.wrap(ctx, err)
}

// doOnce is do for a command that changes a counter: go-redis must not
// resend it after a network error (its reply lost, it may have been
// applied), so a retry can never count a hit twice. A MOVED or ASK
// redirection is still followed: Redis did not run the command then.
func (e *executor) doOnce(ctx context.Context, cmd redis.Cmder) error {
	return e.do(ctx, noRetry{cmd})
}

// noRetry marks a command go-redis must send at most once (go-redis honours
// Cmder.NoRetry on single commands, pipelines and its auto-pipeliner).
type noRetry struct{ redis.Cmder }

func (noRetry) NoRetry() bool { return true }

// wrap turns our own deadline into ErrTimeout and prefixes Redis errors.
func (e *executor) wrap(ctx context.Context, err error) error {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return err
	case ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)):
		return timeoutErr(e.timeout, err)
	default:
		return wrapRedis(err)
	}
}

// errUnsupported is set on increments a server before Redis 7 refused.
var errUnsupported = errors.New("ratelimit: redis: PEXPIRE NX not supported")

func timeoutErr(d time.Duration, err error) error {
	return fmt.Errorf("%w after %v: %w", ErrTimeout, d, err)
}

func wrapRedis(err error) error {
	if errors.Is(err, errUnsupported) || errors.Is(err, ErrTimeout) {
		return err
	}
	if isTimeout(err) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("ratelimit: redis: %w", err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// script is a Lua script run by EVALSHA, falling back to EVAL when the
// server does not have it (first use, restart, another cluster node).
type script struct {
	src string
	s   *redis.Script
}

func newScript(src string) script { return script{src: src, s: redis.NewScript(src)} }

func (e *executor) run(ctx context.Context, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	cmd := redis.NewCmd(ctx, scriptArgs("evalsha", sc.s.Hash(), keys, args)...)
	err := e.doOnce(ctx, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, scriptArgs("eval", sc.src, keys, args)...)
		err = e.doOnce(ctx, cmd)
	}
	return cmd, err
}

func scriptArgs(verb, body string, keys []string, args []any) []any {
	out := make([]any, 0, 3+len(keys)+len(args))
	out = append(out, verb, body, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return append(out, args...)
}
