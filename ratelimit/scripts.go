package ratelimit

import (
	"context"
	"errors"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/script"
)

// counterScript is the all-or-nothing windowed counter: KEYS are counters
// (sharing one {id} hash tag), ARGV[1] the cost n, ARGV[1+i] the limit of
// KEYS[i] and ARGV[1+#KEYS+i] its TTL in ms. If n fits under every limit it
// increments them all; otherwise it increments none and returns the index of
// the first limit that does not fit. A counter found without a TTL (written
// by someone else, or left by a crash) gets one either way, and a denied
// request never creates a key. It returns {denied, count1, count2, ...}.
// This is the path for costs above 1, several limits, clusters and Redis
// before 7 (no PEXPIRE NX); it works on Redis 2.6 and later.
var counterScript = script.New(`
local n = tonumber(ARGV[1])
local k = #KEYS
local counts = {}
local denied = 0
for i = 1, k do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  counts[i] = c
  if denied == 0 and c + n > tonumber(ARGV[1 + i]) then
    denied = i
  end
end
local out = {denied}
for i = 1, k do
  local c = counts[i]
  if denied == 0 then
    c = redis.call('INCRBY', KEYS[i], n)
  end
  if redis.call('PTTL', KEYS[i]) == -1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[1 + k + i])
  end
  out[i + 1] = c
end
return out
`)

// gcraScript is the script redis_rate runs for AllowN (GCRA's decisions and
// Peek), read from redis_rate itself (see redisRateScript), so that Check
// probes the commands the library version in use really calls.
var gcraScript = script.New(redisRateScript())

// redisRateScript returns the source of the Lua script redis_rate's AllowN
// runs: it makes one AllowN against a scripter that answers EVALSHA with
// NOSCRIPT, so that go-redis falls back to EVAL, which carries the source.
// Nothing is sent anywhere.
func redisRateScript() string {
	var s captureScripter
	_, _ = redis_rate.NewLimiter(&s).AllowN(context.Background(), "k", redis_rate.PerSecond(1), 1)
	if s.src == "" {
		panic("ratelimit: cannot read redis_rate's GCRA script")
	}
	return s.src
}

// captureScripter records the source of the first script EVAL'd through it
// and fails every call.
type captureScripter struct{ src string }

var errCaptured = errors.New("captured")

func (s *captureScripter) failed(ctx context.Context, err error) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}

func (s *captureScripter) Eval(ctx context.Context, src string, _ []string, _ ...any) *redis.Cmd {
	if s.src == "" {
		s.src = src
	}
	return s.failed(ctx, errCaptured)
}

func (s *captureScripter) EvalSha(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	return s.failed(ctx, noScript{})
}

// noScript is Redis' NOSCRIPT error (a redis.Error).
type noScript struct{}

func (noScript) Error() string { return "NOSCRIPT No matching script." }
func (noScript) RedisError()   {}

func (s *captureScripter) EvalRO(ctx context.Context, src string, keys []string, args ...any) *redis.Cmd {
	return s.Eval(ctx, src, keys, args...)
}

func (s *captureScripter) EvalShaRO(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	return s.EvalSha(ctx, sha, keys, args...)
}

func (s *captureScripter) ScriptExists(ctx context.Context, _ ...string) *redis.BoolSliceCmd {
	cmd := redis.NewBoolSliceCmd(ctx)
	cmd.SetErr(errCaptured)
	return cmd
}

func (s *captureScripter) ScriptLoad(ctx context.Context, _ string) *redis.StringCmd {
	cmd := redis.NewStringCmd(ctx)
	cmd.SetErr(errCaptured)
	return cmd
}

func (s *captureScripter) Del(ctx context.Context, _ ...string) *redis.IntCmd {
	cmd := redis.NewIntCmd(ctx)
	cmd.SetErr(errCaptured)
	return cmd
}
