package core

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// genInit defines now(): the server clock (TIME) in Unix milliseconds, so
// that every process creating a generation agrees on the clock. Both
// scripts touch one key, so they run on a cluster too.
const genInit = `local function now()
  local t = redis.call('TIME')
  return string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
`

var (
	// generationScript returns the generation at KEYS[1], creating it
	// when missing.
	generationScript = redis.NewScript(genInit + `local g = redis.call('GET', KEYS[1])
if g then return g end
g = now()
redis.call('SET', KEYS[1], g)
return g`)
	// bumpGenerationScript is INCR on a generation created like
	// generationScript's when missing.
	bumpGenerationScript = redis.NewScript(genInit + `if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], now())
end
return redis.call('INCR', KEYS[1])`)
)

// Generation returns the generation number stored at key. A generation
// number is an integer that a feature puts into every key it stores (memo's
// entries, httpcache's responses), so that one BumpGeneration makes all of
// them unreachable in O(1). Its contract is that a number once used never
// comes back: a missing key (evicted, lost in a failover, deleted) is
// created from the Redis server's clock in Unix milliseconds (TIME inside
// the script, so every process agrees), which is above every number used
// before as long as the key was bumped fewer times than milliseconds passed
// since it was created. One round trip; the key gets no TTL. A value that
// is not an integer is a *DecodeError (ErrDecode); Redis failures are
// wrapped "core: generation …".
func (c *Client) Generation(ctx context.Context, key string) (int64, error) {
	if err := c.check(ctx, "generation"); err != nil {
		return 0, err
	}
	if err := checkKey("generation", key); err != nil {
		return 0, err
	}
	s, err := generationScript.Run(ctx, c.rdb, []string{key}).Text()
	if err != nil {
		return 0, wrap("generation", key, err)
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &DecodeError{Key: key, Target: "int64", Err: err}
	}
	return g, nil
}

// BumpGeneration increments the generation number at key and returns the
// new number; a missing key is first created like Generation does, so the
// result is higher than every number used before. One round trip. Redis
// failures (a value that is not an integer included) are wrapped
// "core: bump generation …".
func (c *Client) BumpGeneration(ctx context.Context, key string) (int64, error) {
	if err := c.check(ctx, "bump generation"); err != nil {
		return 0, err
	}
	if err := checkKey("bump generation", key); err != nil {
		return 0, err
	}
	g, err := bumpGenerationScript.Run(ctx, c.rdb, []string{key}).Int64()
	return g, wrap("bump generation", key, err)
}

// CheckGeneration runs, on key, every command Generation and
// BumpGeneration use (EXISTS, GET, SET, INCR, TIME) one by one, so that a
// refused one is named (Redis does not name a command refused inside a
// script), then both scripts through EVAL and EVALSHA. It is meant for the
// start-up checks of features: key must be a probe key, which the caller
// deletes afterwards (it expires within 10 s anyway). The first error is returned, wrapped
// "core: check generation …".
func (c *Client) CheckGeneration(ctx context.Context, key string) error {
	if err := c.check(ctx, "check generation"); err != nil {
		return err
	}
	if err := checkKey("check generation", key); err != nil {
		return err
	}
	keys := []string{key}
	steps := []func() error{
		func() error { return c.rdb.Exists(ctx, key).Err() },
		func() error { return c.rdb.Set(ctx, key, 1, 10*time.Second).Err() }, // the rest keep this TTL
		func() error { return c.rdb.Get(ctx, key).Err() },
		func() error { return c.rdb.Incr(ctx, key).Err() },
		func() error { return c.rdb.Time(ctx).Err() },
		func() error { return generationScript.Eval(ctx, c.rdb, keys).Err() },
		func() error { return generationScript.EvalSha(ctx, c.rdb, keys).Err() },
		func() error { return bumpGenerationScript.Eval(ctx, c.rdb, keys).Err() },
		func() error { return bumpGenerationScript.EvalSha(ctx, c.rdb, keys).Err() },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return wrap("check generation", key, err)
		}
	}
	return nil
}
