package core

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// bulkChunk bounds the keys of one MGET or UNLINK so one command never
// blocks the server for long.
const bulkChunk = 1000

// SetMany stores every key/value of values with one ttl (0 = no expiry) in a
// single pipeline: one round trip on a standalone server, one per master on a
// cluster. Every key and value is checked and encoded before anything is
// sent, so bad input writes nothing. The writes are not atomic as a group.
func (c *Client) SetMany(ctx context.Context, values map[string]any, ttl time.Duration) error {
	if err := c.check(ctx, "set many"); err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	encoded := make(map[string][]byte, len(values))
	for k, v := range values {
		data, err := c.encode(ctx, "set many", k, v, ttl)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		encoded[k] = data
	}
	if len(keys) == 0 {
		return nil
	}
	ttl = redisTTL(ttl)
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if ttl > 0 { // MSET cannot set a TTL
			for _, k := range keys {
				p.Set(ctx, k, encoded[k], ttl)
			}
			return nil
		}
		for _, g := range c.groupBySlot(keys, bulkChunk) {
			args := make([]any, 0, 2*len(g))
			for _, k := range g {
				args = append(args, k, encoded[k])
			}
			p.MSet(ctx, args...)
		}
		return nil
	})
	return wrap("set many", "", err)
}

// GetMany returns the raw stored bytes of the keys that exist; missing keys
// are absent from the map (as in the Python get_many). Decode them with
// Decode, or use GetManyAs. One round trip on a standalone server, one per
// master on a cluster (MGET grouped by hash slot).
func (c *Client) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	err := c.getMany(ctx, keys, func(k string, data []byte) error {
		out[k] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetManyAs reads keys as T values, returning only the keys that exist. The
// first value that cannot be decoded fails the call with a *DecodeError.
func GetManyAs[T any](ctx context.Context, c *Client, keys []string) (map[string]T, error) {
	out := make(map[string]T, len(keys))
	err := c.getMany(ctx, keys, func(k string, data []byte) error {
		var v T
		if err := Decode(k, data, &v); err != nil {
			return err
		}
		out[k] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getMany reads keys and hands each one that exists, with its stored bytes,
// to found; an error from found ends the call with that error.
func (c *Client) getMany(ctx context.Context, keys []string, found func(key string, data []byte) error) error {
	if err := c.checkKeys(ctx, "get many", keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	// One MGET per slot group; a group of one key is a plain GET, which
	// costs less to build and to parse.
	groups := c.groupBySlot(keys, bulkChunk)
	cmds := make([]redis.Cmder, len(groups))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range groups {
			if len(g) == 1 {
				cmds[i] = p.Get(ctx, g[0])
			} else {
				cmds[i] = p.MGet(ctx, g...)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrap("get many", "", err)
	}
	// Pipelined reports only the first failed command, which may be the
	// redis.Nil of a missing key: check every one.
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return wrap("get many", "", err)
		}
	}
	for i, g := range groups {
		switch cmd := cmds[i].(type) {
		case *redis.StringCmd:
			if b, err := cmd.Bytes(); err == nil {
				if err := found(g[0], b); err != nil {
					return err
				}
			}
		case *redis.SliceCmd:
			for j, v := range cmd.Val() {
				if s, ok := v.(string); ok {
					if err := found(g[j], []byte(s)); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// DeleteMany removes keys (UNLINK, grouped by slot and chunked) and returns
// how many existed.
func (c *Client) DeleteMany(ctx context.Context, keys []string) (int64, error) {
	if err := c.checkKeys(ctx, "delete many", keys); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := unlinkGroups(ctx, c.rdb, c.groupBySlot(keys, bulkChunk))
	return n, wrap("delete many", "", err)
}

// unlinkGroups sends one UNLINK per group in a single pipeline on p.
func unlinkGroups(ctx context.Context, p redis.Cmdable, groups [][]string) (int64, error) {
	cmds := make([]*redis.IntCmd, len(groups))
	_, err := p.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, g := range groups {
			cmds[i] = pipe.Unlink(ctx, g...)
		}
		return nil
	})
	var n int64
	for _, cmd := range cmds {
		n += cmd.Val()
	}
	return n, err
}

func (c *Client) checkKeys(ctx context.Context, op string, keys []string) error {
	if err := c.check(ctx, op); err != nil {
		return err
	}
	for _, k := range keys {
		if err := checkKey(op, k); err != nil {
			return err
		}
	}
	return nil
}
