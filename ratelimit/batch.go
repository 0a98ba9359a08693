package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/rediskit/rediskit/internal/batch"
	"github.com/rediskit/rediskit/internal/call"
)

// The limiters batch their decisions with internal/batch: concurrent
// decisions share one round trip, each caller waits at most its Timeout or
// request budget, and a caller who gave up before its batch was sent is
// left out of it. The transaction path (txBatcher) and the script path
// (scriptBatcher) only say what a batch sends. Every decision goes through
// the flusher (not Options.Alone): a decision sent alone would cost Redis
// a round trip of its own just when the next batch is filling, which
// measured 15-20% more server time per decision under load.

// batchOptions are the batch options of a limiter with timeout.
func batchOptions(timeout time.Duration, wait call.Wait) batch.Options {
	return batch.Options{Timeout: timeout, MaxQueued: maxQueued, Wait: wait}
}

// decideBatched runs p through b. The errors Do makes itself (a full
// queue, a timeout) become ErrOverloaded and ErrTimeout; p.Err (set by the
// send, in this package's terms already) and the caller's context errors
// are returned as they are. (p itself is not read: after a timeout its
// batch may still be writing it.)
func decideBatched[T, S any](ctx context.Context, b *batch.Batcher[T, S], p *batch.Pending[T]) error {
	err := b.Do(ctx, p)
	var te *batch.TimeoutError
	switch {
	case errors.As(err, &te):
		return timeoutErr(te.Wait, context.DeadlineExceeded)
	case errors.Is(err, batch.ErrOverloaded):
		return ErrOverloaded
	}
	return err
}
