package script

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// probeTTL bounds how long a probe key outlives a Probe whose DEL failed.
const probeTTL = 10 * time.Second

// probeSrc is the script the eval, evalsha and script probes name: it only
// returns 0, and EVALSHA's NOSCRIPT when the server lacks it proves the
// permission all the same (Redis checks ACLs before running a command).
const probeSrc = "return 0"

var probeSHA = redis.NewScript(probeSrc).Hash()

// probes holds, per command, harmless arguments on a probe key k: a
// command that creates k gives it a TTL or is followed by Probe's PEXPIRE.
var probes = map[string]func(k string) []any{
	"decr":            func(k string) []any { return []any{"decr", k} },
	"decrby":          func(k string) []any { return []any{"decrby", k, 1} },
	"del":             func(k string) []any { return []any{"del", k} },
	"eval":            func(k string) []any { return []any{"eval", probeSrc, 1, k} },
	"evalsha":         func(k string) []any { return []any{"evalsha", probeSHA, 1, k} },
	"exists":          func(k string) []any { return []any{"exists", k} },
	"expire":          func(k string) []any { return []any{"expire", k, 10} },
	"get":             func(k string) []any { return []any{"get", k} },
	"getdel":          func(k string) []any { return []any{"getdel", k} },
	"hdel":            func(k string) []any { return []any{"hdel", k, "f"} },
	"hget":            func(k string) []any { return []any{"hget", k, "f"} },
	"hgetall":         func(k string) []any { return []any{"hgetall", k} },
	"hincrby":         func(k string) []any { return []any{"hincrby", k, "f", 1} },
	"hlen":            func(k string) []any { return []any{"hlen", k} },
	"hmget":           func(k string) []any { return []any{"hmget", k, "f"} },
	"hset":            func(k string) []any { return []any{"hset", k, "f", 1} },
	"incr":            func(k string) []any { return []any{"incr", k} },
	"incrby":          func(k string) []any { return []any{"incrby", k, 1} },
	"mget":            func(k string) []any { return []any{"mget", k} },
	"pexpire":         func(k string) []any { return []any{"pexpire", k, probeTTL.Milliseconds()} },
	"pfadd":           func(k string) []any { return []any{"pfadd", k, "a"} },
	"pfcount":         func(k string) []any { return []any{"pfcount", k} },
	"pttl":            func(k string) []any { return []any{"pttl", k} },
	"scard":           func(k string) []any { return []any{"scard", k} },
	"sadd":            func(k string) []any { return []any{"sadd", k, "a"} },
	"script":          func(string) []any { return []any{"script", "exists", probeSHA} },
	"set":             func(k string) []any { return []any{"set", k, 1, "px", probeTTL.Milliseconds()} },
	"sismember":       func(k string) []any { return []any{"sismember", k, "a"} },
	"smembers":        func(k string) []any { return []any{"smembers", k} },
	"srem":            func(k string) []any { return []any{"srem", k, "a"} },
	"time":            func(string) []any { return []any{"time"} },
	"ttl":             func(k string) []any { return []any{"ttl", k} },
	"unlink":          func(k string) []any { return []any{"unlink", k} },
	"zadd":            func(k string) []any { return []any{"zadd", k, 1, "a"} },
	"zcard":           func(k string) []any { return []any{"zcard", k} },
	"zincrby":         func(k string) []any { return []any{"zincrby", k, 1, "a"} },
	"zrange":          func(k string) []any { return []any{"zrange", k, 0, -1} },
	"zrem":            func(k string) []any { return []any{"zrem", k, "a"} },
	"zremrangebyrank": func(k string) []any { return []any{"zremrangebyrank", k, 0, -2} },
	"zrevrange":       func(k string) []any { return []any{"zrevrange", k, 0, -1} },
	"wait":            func(string) []any { return []any{"wait", 0, 1} }, // 0 replicas: answers at once
	"zscore":          func(k string) []any { return []any{"zscore", k, "a"} },

	// httpcache: its Vary and tag scripts, and PurgeTag.
	"hkeys":            func(k string) []any { return []any{"hkeys", k} },
	"type":             func(k string) []any { return []any{"type", k} },
	"zremrangebyscore": func(k string) []any { return []any{"zremrangebyscore", k, 1, 0} },
	"zscan":            func(k string) []any { return []any{"zscan", k, 0} },
	"publish":          func(k string) []any { return []any{"publish", k, ""} }, // k as the channel
}

// Probe is the start-up permission check of a feature: it runs every
// command the scripts call, EVAL and EVALSHA (which run them) and the extra
// plain commands, each once with harmless arguments on its own probe key
// "<keyPrefix>:check:{<random hex>}:<command>" (one hash tag, so on a
// cluster all live in one slot), then loads every script (SCRIPT LOAD,
// which also proves it compiles), then deletes the probe keys with DEL.
// Probe keys that a command creates get a TTL of a few seconds, so they
// vanish even when the DEL is refused or Probe is interrupted.
//
// Running commands one by one names a refused one, which Redis does not
// do for a command refused inside a script. The first failure is returned
// as "script: check: <command>: <Redis' error>", wrapped so errors.Is and
// errors.As find Redis' own error (a NOPERM error names the command); a
// command Probe has no harmless arguments for is an error before anything
// is sent: "script: check: no probe for command ...".
func Probe(ctx context.Context, rdb redis.UniversalClient, keyPrefix string, scripts []*Script, commands ...string) error {
	cmds, err := probeCommands(scripts, commands)
	if err != nil {
		return err
	}
	var tag [8]byte
	_, _ = rand.Read(tag[:])
	base := keyPrefix + ":check:{" + hex.EncodeToString(tag[:]) + "}:"
	keys := make([]string, 0, len(cmds))
	defer func() {
		if len(keys) > 0 {
			_ = rdb.Del(context.WithoutCancel(ctx), keys...).Err()
		}
	}()
	for _, name := range cmds {
		key := base + name
		keys = append(keys, key)
		err := rdb.Do(ctx, probes[name](key)...).Err()
		if err != nil && !errors.Is(err, redis.Nil) && !(name == "evalsha" && redis.HasErrorPrefix(err, "NOSCRIPT")) {
			return fmt.Errorf("script: check: %s: %w", name, err)
		}
		_ = rdb.PExpire(ctx, key, probeTTL).Err() // best effort: pexpire may be refused
	}
	for _, s := range scripts {
		if err := rdb.ScriptLoad(ctx, s.src).Err(); err != nil {
			return fmt.Errorf("script: check: script load %s: %w", s.Hash(), err)
		}
	}
	return nil
}

// probeCommands returns the sorted union of the scripts' commands, eval
// and evalsha when there are scripts, and the extra commands; an error
// names the first one probes has no entry for.
func probeCommands(scripts []*Script, extra []string) ([]string, error) {
	set := make(map[string]bool)
	for _, s := range scripts {
		for _, c := range s.commands {
			set[c] = true
		}
		set["eval"], set["evalsha"] = true, true
	}
	for _, c := range extra {
		set[strings.ToLower(c)] = true
	}
	cmds := slices.Sorted(maps.Keys(set))
	for _, c := range cmds {
		if probes[c] == nil {
			return nil, fmt.Errorf("script: check: no probe for command %q", c)
		}
	}
	return cmds, nil
}
