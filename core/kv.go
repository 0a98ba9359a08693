package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NoExpiration is the TTL reported for a key that exists without expiry.
const NoExpiration time.Duration = -1

// Set stores value under key, encoded as Encode describes. ttl 0 means no
// expiry; a negative ttl is ErrInvalidTTL; a ttl under a millisecond is
// rounded up to one.
func (c *Client) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	data, err := c.encode(ctx, "set", key, value, ttl)
	if err != nil {
		return err
	}
	return wrap("set", key, c.rdb.Set(ctx, key, data, redisTTL(ttl)).Err())
}

// encode runs the checks every write needs and encodes value.
func (c *Client) encode(ctx context.Context, op, key string, value any, ttl time.Duration) ([]byte, error) {
	if err := c.check(ctx, op); err != nil {
		return nil, err
	}
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	if ttl < 0 {
		return nil, fmt.Errorf("core: %s %q: %w: %v is negative", op, key, ErrInvalidTTL, ttl)
	}
	data, err := Encode(value)
	if err != nil {
		return nil, fmt.Errorf("core: %s %q: %w", op, key, err)
	}
	if len(data) > c.maxValueBytes {
		return nil, fmt.Errorf("core: %s %q: %w: %d bytes exceeds %d", op, key, ErrValueTooLarge, len(data), c.maxValueBytes)
	}
	return data, nil
}

// redisTTL rounds a positive sub-millisecond TTL up to the 1 ms Redis takes.
func redisTTL(ttl time.Duration) time.Duration {
	if ttl > 0 && ttl < time.Millisecond {
		return time.Millisecond
	}
	return ttl
}

// Get reads key into dst (a non-nil pointer) and reports whether it existed.
// A missing key is (false, nil) and leaves dst untouched; a stored value that
// cannot be decoded into dst is a *DecodeError naming the key.
func (c *Client) Get(ctx context.Context, key string, dst any) (bool, error) {
	if err := c.check(ctx, "get"); err != nil {
		return false, err
	}
	if err := checkKey("get", key); err != nil {
		return false, err
	}
	if dst == nil {
		return false, fmt.Errorf("core: get %q: %w: nil destination", key, ErrInvalidArgument)
	}
	data, err := c.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("get", key, err)
	}
	if err := Decode(key, data, dst); err != nil {
		return false, err
	}
	return true, nil
}

// GetAs reads key as a T. found is false (and v the zero T) when the key is
// missing.
func GetAs[T any](ctx context.Context, c *Client, key string) (v T, found bool, err error) {
	found, err = c.Get(ctx, key, &v)
	return v, found, err
}

// GetOr reads key as a T, returning def when the key is missing (the Python
// get_value(key, default)). Errors are returned, never replaced by def.
func GetOr[T any](ctx context.Context, c *Client, key string, def T) (T, error) {
	v, found, err := GetAs[T](ctx, c, key)
	if err != nil || !found {
		return def, err
	}
	return v, nil
}

// Delete removes key (UNLINK: memory is reclaimed in the background) and
// returns how many keys were removed, 0 or 1.
func (c *Client) Delete(ctx context.Context, key string) (int64, error) {
	if err := c.check(ctx, "delete"); err != nil {
		return 0, err
	}
	if err := checkKey("delete", key); err != nil {
		return 0, err
	}
	n, err := c.rdb.Unlink(ctx, key).Result()
	return n, wrap("delete", key, err)
}

// Exists reports whether key exists.
func (c *Client) Exists(ctx context.Context, key string) (bool, error) {
	if err := c.check(ctx, "exists"); err != nil {
		return false, err
	}
	if err := checkKey("exists", key); err != nil {
		return false, err
	}
	n, err := c.rdb.Exists(ctx, key).Result()
	return n == 1, wrap("exists", key, err)
}

// TTL returns the remaining time to live of key with millisecond precision:
// NoExpiration for a key without expiry, ErrNotFound for a missing key.
func (c *Client) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := c.check(ctx, "ttl"); err != nil {
		return 0, err
	}
	if err := checkKey("ttl", key); err != nil {
		return 0, err
	}
	d, err := c.rdb.PTTL(ctx, key).Result()
	if err != nil {
		return 0, wrap("ttl", key, err)
	}
	switch d {
	case -2:
		return 0, fmt.Errorf("core: ttl %q: %w", key, ErrNotFound)
	case -1:
		return NoExpiration, nil
	}
	return d, nil
}

// CacheSet stores value with the client's cache TTL (one hour unless
// configured), like the Python cache_set.
func (c *Client) CacheSet(ctx context.Context, key string, value any) error {
	return c.Set(ctx, key, value, c.cacheTTL)
}

// CacheSetTTL stores value with an explicit, positive ttl.
func (c *Client) CacheSetTTL(ctx context.Context, key string, value any, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("core: cache set %q: %w: cache entries need a positive ttl, got %v", key, ErrInvalidTTL, ttl)
	}
	return c.Set(ctx, key, value, ttl)
}

// CacheGet reads a cached value into dst; found is false on a miss.
func (c *Client) CacheGet(ctx context.Context, key string, dst any) (bool, error) {
	return c.Get(ctx, key, dst)
}
