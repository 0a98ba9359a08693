package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the typed rediskit client. It is safe for concurrent use. Every
// method that touches Redis takes a context first, returns Redis failures
// wrapped with the "core:" prefix, and never returns redis.Nil.
type Client struct {
	rdb           redis.UniversalClient
	cluster       *redis.ClusterClient // nil unless rdb is a cluster client
	cacheTTL      time.Duration
	maxValueBytes int
	budget        time.Duration // request budget; <= 0: none
	observer      Observer      // nil: features report nothing
	owned         bool          // Close closes rdb
	closed        *atomic.Bool
	ttlMode       atomic.Int32 // windowed counter: 0 MULTI with PEXPIRE NX, 2 Lua (server refused NX)
}

// New connects a Client as cfg describes. It does not dial: the first command
// does. Call Close when done.
func New(cfg Config) (*Client, error) {
	rdb, err := cfg.newRedis()
	if err != nil {
		return nil, err
	}
	c := newClient(rdb, true)
	if cfg.CacheTTL > 0 {
		c.cacheTTL = cfg.CacheTTL
	}
	if cfg.MaxValueBytes > 0 {
		c.maxValueBytes = cfg.MaxValueBytes
	}
	if cfg.RequestBudget != 0 {
		c.budget = cfg.RequestBudget
	}
	c.observer = cfg.Observer
	return c, nil
}

// NewFromRedis wraps a go-redis client the caller already has (standalone,
// failover or cluster). Close on the returned Client does not close rdb: its
// owner does. It panics if rdb is nil. Set ContextTimeoutEnabled in rdb's
// options so that context deadlines bound slow calls (New does).
func NewFromRedis(rdb redis.UniversalClient) *Client {
	if rdb == nil {
		panic("core: NewFromRedis: nil redis client")
	}
	return newClient(rdb, false)
}

func newClient(rdb redis.UniversalClient, owned bool) *Client {
	c := &Client{rdb: rdb, cacheTTL: DefaultCacheTTL, maxValueBytes: defaultMaxValueBytes, budget: DefaultRequestBudget, owned: owned, closed: new(atomic.Bool)}
	c.cluster, _ = rdb.(*redis.ClusterClient)
	return c
}

// WithCacheTTL returns a Client sharing c's connection whose CacheSet uses
// ttl. It panics if ttl is not positive (a configuration error).
func (c *Client) WithCacheTTL(ttl time.Duration) *Client {
	if ttl <= 0 {
		panic("core: WithCacheTTL: ttl must be positive")
	}
	return &Client{rdb: c.rdb, cluster: c.cluster, cacheTTL: ttl, maxValueBytes: c.maxValueBytes, budget: c.budget, observer: c.observer, owned: false, closed: c.closed}
}

// Redis returns the underlying go-redis client, for commands this package
// does not wrap.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// IsCluster reports whether the client talks to a Redis Cluster.
func (c *Client) IsCluster() bool { return c.cluster != nil }

// CacheTTL is the TTL CacheSet applies.
func (c *Client) CacheTTL() time.Duration { return c.cacheTTL }

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.check(ctx, "ping"); err != nil {
		return err
	}
	return wrap("ping", "", c.rdb.Ping(ctx).Err())
}

// Close closes the connection pool if this Client created it (New); calls
// after Close return ErrClosed, also on clients derived with WithCacheTTL.
// On a Client from NewFromRedis or WithCacheTTL, Close does nothing: the
// owner of the connection closes it. Close is idempotent.
func (c *Client) Close() error {
	if !c.owned { // a client from NewFromRedis or WithCacheTTL: the owner closes
		return nil
	}
	if c.closed.Swap(true) {
		return nil
	}
	if err := c.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("core: close: %w", err)
	}
	return nil
}

// check validates what every call needs: a context and an open client.
func (c *Client) check(ctx context.Context, op string) error {
	if ctx == nil {
		return fmt.Errorf("core: %s: %w", op, ErrNilContext)
	}
	if c.closed.Load() {
		return fmt.Errorf("core: %s: %w", op, ErrClosed)
	}
	return nil
}

// wrap adds the package prefix, operation and key to a Redis error, mapping
// redis.ErrClosed to ErrClosed.
func wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.ErrClosed) {
		err = ErrClosed
	}
	if key == "" {
		return fmt.Errorf("core: %s: %w", op, err)
	}
	return fmt.Errorf("core: %s %q: %w", op, key, err)
}

var (
	defaultMu     sync.Mutex
	defaultClient *Client
)

// Default returns the process-wide Client configured from the environment
// (ConfigFromEnv), creating it on first use. It is safe for concurrent use;
// a configuration error is returned on every call until the environment is
// fixed and ResetDefault is called.
func Default() (*Client, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultClient != nil {
		return defaultClient, nil
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	defaultClient = c
	return c, nil
}

// ResetDefault closes and forgets the process-wide Client; the next Default
// call builds a new one. Useful between tests.
func ResetDefault() error {
	defaultMu.Lock()
	c := defaultClient
	defaultClient = nil
	defaultMu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}
