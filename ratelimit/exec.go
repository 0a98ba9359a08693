package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/call"
)

// executor runs the single commands of Peek (GET, MGET) and Reset (DEL)
// through go-redis' deferred auto-pipeliner, so concurrent calls share
// pipelines, and bounds the caller's wait by a
// timeout (call.Context: the earlier of the timeout and the request
// budget). The auto-pipeliner ignores per-command contexts once a command
// is queued, so the bound is enforced here, on the waiting side
// (AutoFuture.WaitContext): a timed-out command may still run later.
type executor struct {
	rdb     redis.UniversalClient
	ap      *redis.AutoPipeliner // nil: plain client with a context deadline
	timeout time.Duration
	wait    call.Wait // nil: waits not reported
}

// newExecutor returns the executor of a limiter on c's Redis; wait, which
// may be nil, gets its waits (the limiter's one call.Wait, see waitOf).
func newExecutor(c *core.Client, timeout time.Duration, wait call.Wait) *executor {
	rdb := c.Redis()
	e := &executor{rdb: rdb, timeout: timeout, wait: wait}
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

// do runs cmd and waits at most e.timeout, or until ctx is done or its
// request budget spent (call.Context).
func (e *executor) do(ctx context.Context, cmd redis.Cmder) error {
	tctx, cancel := call.Context(ctx, e.timeout, e.wait)
	defer cancel()
	if err := tctx.Err(); err != nil { // budget spent: send nothing
		return e.wrap(ctx, err)
	}
	var err error
	if e.ap == nil {
		_ = e.rdb.Process(tctx, cmd)
		err = cmd.Err()
	} else {
		err = e.ap.Submit(tctx, cmd).WaitContext(tctx)
	}
	return e.wrap(ctx, err)
}

// wrap turns our own deadline into ErrTimeout and prefixes Redis errors.
func (e *executor) wrap(ctx context.Context, err error) error {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return err
	case ctx.Err() == nil && call.IsTimeout(err):
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
	if call.IsTimeout(err) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("ratelimit: redis: %w", err)
}

// waitOf is the call.Wait of every Redis wait of a limiter on c: c's
// Observer, as feature "ratelimit".
func waitOf(c *core.Client) call.Wait { return call.Observe(c.Observer(), "ratelimit") }
