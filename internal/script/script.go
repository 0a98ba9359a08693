// Package script declares Lua scripts together with the Redis commands they
// call, so that a feature's start-up permission check (Probe) is derived
// from the scripts it really runs and cannot drift from them.
//
// A Script is safe for concurrent use.
package script

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/call"
)

// Script is a Lua script and the commands it calls.
type Script struct {
	s        *redis.Script
	src      string
	commands []string
}

// New returns the script src. It finds every command the script calls: the
// string literal (single or double quotes) opening each redis.call( or
// redis.pcall(, lowercased, deduplicated and sorted. It panics, with the
// prefix "script: ", when a call's command is not such a literal (a
// variable, an alias of redis.call, or the text "redis.call" in a comment),
// since Probe could not check it. Declare scripts as package variables so a
// bad one panics at start-up.
func New(src string) *Script {
	cmds, err := parseCommands(src)
	if err != nil {
		panic("script: " + err.Error())
	}
	return &Script{s: redis.NewScript(src), src: src, commands: cmds}
}

// parseCommands returns the sorted, distinct, lowercased commands src calls.
func parseCommands(src string) ([]string, error) {
	var cmds []string
	for {
		i := indexCall(src)
		if i < 0 {
			break
		}
		fn := "redis.call"
		if strings.HasPrefix(src[i:], "redis.pcall") {
			fn = "redis.pcall"
		}
		src = src[i+len(fn):]
		name, ok := literalArg(src)
		if !ok {
			return nil, fmt.Errorf("%s without a literal command name: %.40q", fn, fn+src)
		}
		cmds = append(cmds, strings.ToLower(name))
	}
	slices.Sort(cmds)
	return slices.Compact(cmds), nil
}

// indexCall returns the index of the next "redis.call" or "redis.pcall".
func indexCall(s string) int {
	a, b := strings.Index(s, "redis.call"), strings.Index(s, "redis.pcall")
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

// literalArg reads the quoted first argument of a call whose argument list
// (an opening parenthesis) starts s.
func literalArg(s string) (string, bool) {
	s, ok := strings.CutPrefix(strings.TrimLeft(s, " \t"), "(")
	if !ok {
		return "", false
	}
	s = strings.TrimLeft(s, " \t\r\n")
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", false
	}
	name, _, ok := strings.Cut(s[1:], s[:1])
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n\\") {
		return "", false
	}
	return name, true
}

// Commands returns the commands the script calls, lowercased and sorted.
// The caller must not modify the slice.
func (s *Script) Commands() []string { return s.commands }

// Hash returns the script's SHA-1, as EVALSHA takes it.
func (s *Script) Hash() string { return s.s.Hash() }

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// Processor runs a command: *redis.Client, *redis.ClusterClient,
// redis.UniversalClient, redis.Pipeliner and *redis.AutoPipeliner all are.
type Processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// Run runs the script by EVALSHA and, when the server does not have it
// (NOSCRIPT: first use, a restart, another cluster node), by EVAL. Both are
// sent at most once: go-redis never resends them after a network error,
// since a script that changes a counter may have run although its reply
// was lost. A MOVED or ASK redirection is still followed (Redis did not run
// the script then). In a pipeline, where errors are known only after Exec,
// there is no EVAL fallback: load the script first (Probe does).
func (s *Script) Run(ctx context.Context, rdb Processor, keys []string, args ...any) *redis.Cmd {
	cmd := command(ctx, "evalsha", s.Hash(), keys, args)
	_ = rdb.Process(ctx, call.NoRetry{Cmder: cmd})
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = command(ctx, "eval", s.src, keys, args)
		_ = rdb.Process(ctx, call.NoRetry{Cmder: cmd})
	}
	return cmd
}

func command(ctx context.Context, verb, body string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, verb, body, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return redis.NewCmd(ctx, append(a, args...)...)
}
