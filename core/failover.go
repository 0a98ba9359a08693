package core

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterReloadMinInterval is the shortest gap between two slot-map reloads
// that connection errors request. go-redis coalesces reloads on its own (one
// at a time, then a 200 ms cooldown); this only keeps a storm of errors from
// contending on that.
const clusterReloadMinInterval = 50 * time.Millisecond

// followFailover makes a cluster client reload its slot map when a node
// fails with a connection error (refused, reset, EOF, timeout) or answers
// CLUSTERDOWN. go-redis reloads it only on MOVED/ASK/READONLY or every
// ClusterStateReloadInterval (60 s), so after a master dies and its replica
// takes over, a client would keep sending the dead master's slots to it
// until then. With this hook the reloads continue while the errors do, at
// most every 200 ms, and the first one after the cluster is healthy again
// routes to the new master.
func followFailover(rdb *redis.ClusterClient) {
	var last atomic.Int64
	h := reloadHook{reload: func() {
		now := time.Now().UnixNano()
		prev := last.Load()
		if now-prev < int64(clusterReloadMinInterval) || !last.CompareAndSwap(prev, now) {
			return
		}
		rdb.ReloadState(context.Background())
	}}
	rdb.OnNewNode(func(node *redis.Client) { node.AddHook(h) })
}

type reloadHook struct{ reload func() }

func (h reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if topologyError(err) {
			h.reload()
		}
		return err
	}
}

func (h reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if topologyError(err) {
			h.reload()
		}
		return err
	}
}

// topologyError reports whether err from a node suggests the cluster's
// topology changed under the client: the node is unreachable, hung up or
// timed out, or says the cluster is down.
func topologyError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.Nil) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		return strings.HasPrefix(re.Error(), "CLUSTERDOWN")
	}
	return false
}
