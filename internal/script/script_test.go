package script_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/internal/script"
)

var (
	_ script.Processor = (*redis.Client)(nil)
	_ script.Processor = (*redis.ClusterClient)(nil)
	_ script.Processor = redis.UniversalClient(nil)
	_ script.Processor = redis.Pipeliner(nil)
	_ script.Processor = (*redis.AutoPipeliner)(nil)
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestNewCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"none", "return 1", nil},
		{"single quotes", "return redis.call('GET', KEYS[1])", []string{"get"}},
		{"double quotes", `return redis.call("INCRBY", KEYS[1], ARGV[1])`, []string{"incrby"}},
		{"pcall", "return redis.pcall('pttl', KEYS[1])", []string{"pttl"}},
		{"spaces", "redis.call ( 'SET' , KEYS[1], 1)\nredis.call(\n  \"Del\", KEYS[1])", []string{"del", "set"}},
		{"repeated and sorted", `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
redis.pcall("incr", KEYS[2])
return {n, redis.call('PTTL', KEYS[1])}`, []string{"incr", "pexpire", "pttl"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := script.New(tc.src)
			if got := s.Commands(); !slices.Equal(got, tc.want) {
				t.Errorf("Commands: got %q, want %q", got, tc.want)
			}
			if got, want := s.Hash(), redis.NewScript(tc.src).Hash(); got != want {
				t.Errorf("Hash: got %s, want %s", got, want)
			}
			if got := s.Source(); got != tc.src {
				t.Errorf("Source: got %q, want %q", got, tc.src)
			}
		})
	}
}

func TestNewPanicsOnNonLiteralCommand(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, src string }{
		{"variable", "local c = ARGV[1]\nreturn redis.call(c, KEYS[1])"},
		{"alias", "local call = redis.call\nreturn call('GET', KEYS[1])"},
		{"pcall variable", "return redis.pcall(ARGV[1])"},
		{"no arguments", "return redis.call()"},
		{"unterminated", "return redis.call('GET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "script: ") {
					t.Errorf("New(%q): got panic %v, want one starting \"script: \"", tc.src, r)
				}
			}()
			script.New(tc.src)
		})
	}
}

var counter = script.New(`local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 60000, 'NX')
return n`)

func TestRun(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		key := tc.Prefix + ":n"
		counter := script.New(counter.Source() + "\n-- " + tc.Prefix) // not loaded yet: EVAL fallback once
		var sent []string
		tc.RDB.AddHook(hook(func(cmd redis.Cmder) {
			if n := cmd.Name(); n != "eval" && n != "evalsha" {
				return // connection set-up
			}
			if r, ok := cmd.(interface{ NoRetry() bool }); !ok || !r.NoRetry() {
				t.Errorf("%s: got a command go-redis may retry, want NoRetry", cmd.Name())
			}
			sent = append(sent, cmd.Name())
		}))
		for i, want := range []int64{2, 4} {
			got, err := counter.Run(ctx, tc.RDB, []string{key}, 2).Int64()
			if err != nil || got != want {
				t.Fatalf("run %d: got %d, %v, want %d", i, got, err, want)
			}
		}
		if want := []string{"evalsha", "eval", "evalsha"}; !slices.Equal(sent, want) {
			t.Errorf("commands sent: got %q, want %q", sent, want)
		}
		pipe := tc.RDB.Pipeline()
		cmd := counter.Run(ctx, pipe, []string{key}, 1)
		if _, err := pipe.Exec(ctx); err != nil || cmd.Val() != int64(5) {
			t.Errorf("run in a pipeline: got %v, %v, want 5", cmd.Val(), err)
		}
	})
}

// hook calls fn before every single command.
type hook func(redis.Cmder)

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h(cmd); return next(ctx, cmd) }
}
func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestProbe(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		if err := script.Probe(ctx, tc.RDB, tc.Prefix, []*script.Script{counter}, "get", "SET", "time"); err != nil {
			t.Fatalf("Probe: got %v, want nil", err)
		}
		if left := keys(t, tc, tc.Prefix+":check:*"); len(left) != 0 {
			t.Errorf("probe keys after Probe: got %q, want none", left)
		}
		exists, err := tc.RDB.ScriptExists(ctx, counter.Hash()).Result()
		if err != nil || !exists[0] {
			t.Errorf("script loaded by Probe: got %v, %v, want true", exists, err)
		}
	})
}

func TestProbeUnknownCommand(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	cases := []struct {
		name     string
		scripts  []*script.Script
		commands []string
		want     string
	}{
		{"extra", nil, []string{"get", "flushall"}, `script: check: no probe for command "flushall"`},
		{"in a script", []*script.Script{script.New("return redis.call('KEYS', '*')")}, nil, `script: check: no probe for command "keys"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := script.Probe(context.Background(), rdb, redistest.Prefix(t), tc.scripts, tc.commands...)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Probe: got %v, want %s", err, tc.want)
			}
		})
	}
}

// Probe names the command an ACL user may not run, with Redis' own error.
func TestProbeACL(t *testing.T) {
	t.Parallel()
	const base = "on >pw ~app:* &* +@all -@dangerous -@admin"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off",
		"user app " + base,
		"user noincrby " + base + " -incrby",
		"user nopexpire " + base + " -pexpire",
		"user noevalsha " + base + " -evalsha",
		"user noeval " + base + " -eval",
		"user noload " + base + " -script|load",
		"user notime " + base + " -time",
		"user otherkeys on >pw ~other:* &* +@all -@dangerous -@admin",
	}})
	cases := []struct {
		user string
		want string // "" no error, else a text the error holds
	}{
		{"app", ""},
		{"noincrby", "'incrby'"},
		{"nopexpire", "'pexpire'"},
		{"noevalsha", "'evalsha'"},
		{"noeval", "'eval'"},
		{"noload", "'script|load'"},
		{"notime", "'time'"},
		{"otherkeys", "no permissions to access"},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			rdb := srv.Client(t, &redis.Options{Username: tc.user, Password: "pw"})
			err := script.Probe(context.Background(), rdb, "app:"+tc.user, []*script.Script{counter}, "get", "time")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Probe: got %v, want nil", err)
				}
				return
			}
			var rerr redis.Error
			if err == nil || !strings.HasPrefix(err.Error(), "script: check: ") || !strings.Contains(strings.ToLower(err.Error()), tc.want) ||
				!errors.As(err, &rerr) || !strings.HasPrefix(rerr.Error(), "NOPERM") {
				t.Fatalf("Probe: got %v, want a \"script: check: \" error wrapping a NOPERM error naming %s", err, tc.want)
			}
		})
	}
	t.Cleanup(func() {
		left, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).Keys(context.Background(), "app:*").Result()
		for _, k := range left {
			ttl, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).PTTL(context.Background(), k).Result()
			if ttl < 0 {
				t.Errorf("probe key %s left without a TTL (%v), want it deleted or expiring", k, ttl)
			}
		}
	})
}

// Every entry of the probe table runs on a default-user server and on a
// cluster, and leaves no key behind.
func TestProbeTable(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		names := script.Probes()
		slices.Sort(names)
		for _, name := range names {
			if err := script.Probe(context.Background(), tc.RDB, tc.Prefix, nil, name); err != nil {
				t.Errorf("Probe %s: got %v, want nil", name, err)
			}
		}
		if left := keys(t, tc, tc.Prefix+":*"); len(left) != 0 {
			t.Errorf("probe keys after Probe: got %q, want none", left)
		}
	})
}

// keys returns the keys matching pattern on every master.
func keys(t *testing.T, tc redistest.Case, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var (
		mu  sync.Mutex
		out []string
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		k, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		defer mu.Unlock()
		out = append(out, k...)
		return err
	}
	var err error
	if cc, ok := tc.RDB.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, tc.RDB.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}
