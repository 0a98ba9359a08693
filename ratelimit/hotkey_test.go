package ratelimit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// The multi-process hot-key test: hotKeyProcs copies of this test binary,
// each with hotKeyCallers goroutines making hotKeyTries decisions on one
// key, against one redis-server.
const (
	hotKeyProcs   = 4
	hotKeyCallers = 64
	hotKeyTries   = 8
	hotKeyLimit   = 1000 // below the 2,048 decisions: the limit is reached
	hotKeyEnv     = "RATELIMIT_HOTKEY_CHILD"
)

// hotKeyLimiter builds the limiter kind for the hot-key test: every kind
// allows exactly hotKeyLimit units on a key within the test's time (GCRA:
// one unit frees every 86.4 s), with no local deny cache so that every
// decision goes to Redis.
func hotKeyLimiter(rdb redis.UniversalClient, kind string, now time.Time) (*ratelimit.RedisLimiter, error) {
	c := core.NewFromRedis(rdb)
	opts := ratelimit.Options{Namespace: "hot", Limit: hotKeyLimit, Window: time.Hour, DenyCacheSize: -1,
		Timeout: 10 * time.Second, Now: func() time.Time { return now }}
	switch kind {
	case "fixed-batched":
		return ratelimit.NewFixedWindow(c, opts)
	case "fixed-script":
		l, err := ratelimit.NewFixedWindow(c, opts)
		if err == nil {
			ratelimit.ForceScript(l)
		}
		return l, err
	case "gcra":
		opts.Window = 24 * time.Hour
		return ratelimit.NewGCRA(c, opts)
	case "multi":
		opts.Limit, opts.Window = 0, 0
		opts.Policies = []ratelimit.Policy{{Name: "hour", Limit: hotKeyLimit, Window: time.Hour},
			{Name: "day", Limit: 2 * hotKeyLimit, Window: 24 * time.Hour}}
		return ratelimit.NewMulti(c, opts)
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// Concurrent decisions on one hot key coalesce within each process (one
// INCRBY n, or one script call for the batch), and the limit stays exact
// across processes: four OS processes (this test binary, re-executed) of 64
// goroutines each, every decision on one key, allow exactly the limit, for
// every limiter.
func TestHotKeyExactAcrossProcesses(t *testing.T) {
	if spec := os.Getenv(hotKeyEnv); spec != "" {
		hotKeyChild(t, spec)
		return
	}
	if testing.Short() {
		t.Skip("starts 16 processes")
	}
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	now := midWindow(time.Hour).Now() // all processes in one window
	for _, kind := range []string{"fixed-batched", "fixed-script", "gcra", "multi"} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, err := hotKeyLimiter(rdb, kind, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Reset(ctx, "tenant"); err != nil {
				t.Fatal(err)
			}
			start := time.Now().Add(2 * time.Second) // after every child has started: all at once
			var allowed, denied, errs atomic.Int64
			var wg sync.WaitGroup
			for i := range hotKeyProcs {
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHotKeyExactAcrossProcesses$", "-test.v")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d", hotKeyEnv, srv.Addr(), kind,
					now.UnixNano(), start.UnixNano()))
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					got := false
					sc := bufio.NewScanner(out)
					for sc.Scan() {
						var a, d, e int64
						if _, err := fmt.Sscanf(sc.Text(), "hotkey: allowed=%d denied=%d errors=%d", &a, &d, &e); err == nil {
							allowed.Add(a)
							denied.Add(d)
							errs.Add(e)
							got = true
						}
					}
					if err := cmd.Wait(); err != nil || !got {
						t.Errorf("process %d: %v, result line seen: %v", i, err, got)
					}
				})
			}
			wg.Wait()
			total := int64(hotKeyProcs * hotKeyCallers * hotKeyTries)
			if allowed.Load() != hotKeyLimit || denied.Load() != total-hotKeyLimit || errs.Load() != 0 {
				t.Errorf("got %d allowed, %d denied, %d errors; want exactly %d allowed, %d denied, no error",
					allowed.Load(), denied.Load(), errs.Load(), hotKeyLimit, total-hotKeyLimit)
			}
			if res, err := l.Peek(ctx, "tenant"); err != nil || res.Remaining != 0 {
				t.Errorf("Peek after: got %+v, %v, want 0 remaining", res, err)
			}
		})
	}
}

// hotKeyChild is one process of TestHotKeyExactAcrossProcesses: spec is
// "addr kind now start" (times in Unix ns). It prints its counts.
func hotKeyChild(t *testing.T, spec string) {
	f := strings.Fields(spec)
	if len(f) != 4 {
		t.Fatalf("bad %s %q", hotKeyEnv, spec)
	}
	nowNS, err1 := strconv.ParseInt(f[2], 10, 64)
	startNS, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad %s %q", hotKeyEnv, spec)
	}
	rdb := redis.NewClient(&redis.Options{Addr: f[0], PoolSize: 8})
	defer rdb.Close()
	l, err := hotKeyLimiter(rdb, f[1], time.Unix(0, nowNS))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil { // connected before the start
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, startNS)))
	var allowed, denied, errs atomic.Int64
	var wg sync.WaitGroup
	for range hotKeyCallers {
		wg.Go(func() {
			for range hotKeyTries {
				res, err := l.Allow(ctx, "tenant")
				switch {
				case err != nil:
					errs.Add(1)
					t.Log(err)
				case res.Allowed:
					allowed.Add(1)
				default:
					denied.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("hotkey: allowed=%d denied=%d errors=%d\n", allowed.Load(), denied.Load(), errs.Load())
}
