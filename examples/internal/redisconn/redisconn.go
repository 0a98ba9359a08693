// Package redisconn connects the example programs to Redis: a configured
// server or cluster when the environment names one, otherwise an embedded
// in-process Redis (miniredis) so the examples run on a machine with no
// Redis at all. It is for examples only; services use core.New or
// core.Default directly.
package redisconn

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/embedded"
)

// Modes accepted by Open.
const (
	ModeAuto     = "auto"     // environment when configured, else embedded
	ModeEnv      = "env"      // REDIS_URL / REDIS_HOST / REDIS_CLUSTER_ADDRS, as core.ConfigFromEnv
	ModeEmbedded = "embedded" // in-process miniredis
)

// Conn is an open connection and a description of it that is safe to log
// (no password).
type Conn struct {
	Client      *core.Client
	Description string
	embedded    *embedded.Server
}

// Close closes the client and stops the embedded server, if any.
func (c *Conn) Close() {
	_ = c.Client.Close()
	if c.embedded != nil {
		c.embedded.Close()
	}
}

// configured reports whether the environment names a Redis to use.
func configured() bool {
	for _, v := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// production reports whether $ENVIRONMENT is "production" (as
// core.ConfigFromEnv reads it).
func production() bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv("ENVIRONMENT")), core.EnvProduction)
}

// Open connects as mode says (one of the Mode constants, or a redis:// or
// rediss:// URL) and checks the connection with a PING.
func Open(ctx context.Context, mode string) (*Conn, error) {
	if mode == ModeAuto {
		mode = ModeEmbedded
		if configured() {
			mode = ModeEnv
		} else if production() {
			// Production never falls back to the embedded Redis.
			return nil, fmt.Errorf("%w: ENVIRONMENT=production needs a Redis address: set REDIS_URL, REDIS_HOST (and REDIS_PORT), REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS (or pass -redis embedded to run on the in-process Redis on purpose)", core.ErrNoAddress)
		}
	}
	var conn *Conn
	switch {
	case strings.HasPrefix(mode, "redis://") || strings.HasPrefix(mode, "rediss://"):
		cfg := core.Config{URL: mode}
		c, err := core.New(cfg)
		if err != nil {
			return nil, err
		}
		conn = &Conn{Client: c, Description: "Redis at " + cfg.String()}
	case mode == ModeEnv:
		cfg, err := core.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		c, err := core.New(cfg)
		if err != nil {
			return nil, err
		}
		conn = &Conn{Client: c, Description: "configured Redis (" + cfg.String() + ")"}
	case mode == ModeEmbedded:
		srv, err := embedded.Start()
		if err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		c, err := core.New(core.Config{URL: "redis://" + srv.Addr()})
		if err != nil {
			srv.Close()
			return nil, err
		}
		conn = &Conn{Client: c, embedded: srv,
			Description: "embedded in-process Redis (miniredis) on " + srv.Addr() + "; set REDIS_URL or REDIS_CLUSTER_ADDRS to use a real one"}
	default:
		return nil, fmt.Errorf("unknown redis mode: want %q, %q, %q or a redis:// URL", ModeAuto, ModeEnv, ModeEmbedded)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Client.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s does not answer: %w", conn.Description, err)
	}
	return conn, nil
}
