// Package redistest runs tests against real Redis deployments on loopback.
//
// The first test that asks for one starts, once per test binary, a standalone
// redis-server and a 3-master Redis Cluster on free 127.0.0.1 ports; later
// tests share them and keep apart by key prefix (see Prefix), so they may run
// in parallel. A package that uses redistest should call Main from TestMain,
// which stops every server and removes its files when the tests end.
//
// REDIS_URL (redis:// or rediss://) replaces the standalone server. Where
// redis-server is not on PATH, Standalone falls back to the embedded Redis of
// the examples module (miniredis with real-time expiry), built from this
// checkout's examples/cmd/embeddedredis and run as a child process, so this
// module never imports miniredis; Cluster and StartServer skip the test. If
// the embedded Redis cannot be built, standalone tests skip too, saying why.
// With REDISKIT_REQUIRE_REDIS=1 a missing binary fails the test instead.
//
// Failover tests get dedicated deployments they may break: StartSentinel (one
// master, one replica, three sentinels) and StartReplicaCluster (three
// masters, each with a replica), with SIGKILL of a node and a wait until the
// topology is healthy again.
//
// Example functions, which have no *testing.T, get a client to an emptied
// private server from ExampleClient.
//
// All functions are safe for concurrent use by parallel tests.
package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Target describes one Redis deployment a test runs against.
type Target struct {
	Name     string // "standalone" or "cluster"
	Cluster  bool
	Embedded bool // the embedded Redis fallback (miniredis, in a child process)
	Addrs    []string
}

// Case is what ForEach hands each subtest: the deployment, a fresh client to
// it, and a key prefix no other test uses.
type Case struct {
	Target Target
	RDB    redis.UniversalClient
	Prefix string
}

// deployment is a lazily started shared target; err is sticky.
type deployment struct {
	once   sync.Once
	target Target
	opts   *redis.Options // standalone from REDIS_URL only
	skip   string         // non-empty: redis-server missing, skip with this
	err    error
}

var (
	standalone deployment
	cluster    deployment

	rootOnce sync.Once
	root     string
	rootErr  error
)

// Main runs the tests, then stops every server the harness started and
// removes their directories, also when m.Run panics, and exits with the tests'
// status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer cleanup()
	return m.Run()
}

func cleanup() {
	stopAll()
	stopEmbedded()
	if root != "" {
		_ = os.RemoveAll(root)
	}
}

// tempDir makes a directory for one server below the binary's shared root.
func tempDir(name string) (string, error) {
	rootOnce.Do(func() { root, rootErr = os.MkdirTemp("", "redistest-") })
	if rootErr != nil {
		return "", rootErr
	}
	return os.MkdirTemp(root, name+"-")
}

// haveRedis reports whether redis-server and redis-cli are on PATH.
var haveRedis = sync.OnceValue(func() bool {
	_, err1 := exec.LookPath("redis-server")
	_, err2 := exec.LookPath("redis-cli")
	return err1 == nil && err2 == nil
})

func requireRedis() bool { return os.Getenv("REDISKIT_REQUIRE_REDIS") == "1" }

// skipMissing skips t (or fails it under REDISKIT_REQUIRE_REDIS=1) because
// redis-server is not installed.
func skipMissing(t testing.TB, what string) {
	t.Helper()
	msg := "redistest: redis-server/redis-cli not found on PATH; " + what
	if requireRedis() {
		t.Fatal(msg + " (REDISKIT_REQUIRE_REDIS=1)")
	}
	t.Skip(msg)
}

// StandaloneTarget returns the shared standalone deployment, starting it on
// first use: REDIS_URL when set, else a redis-server, else the embedded Redis
// (it skips t, saying why, when that cannot be built).
func StandaloneTarget(t testing.TB) Target {
	t.Helper()
	standalone.once.Do(startStandalone)
	if standalone.skip != "" {
		t.Skip(standalone.skip)
	}
	if standalone.err != nil {
		t.Fatal(standalone.err)
	}
	return standalone.target
}

func startStandalone() {
	d := &standalone
	if u := os.Getenv("REDIS_URL"); u != "" {
		d.opts, d.err = redis.ParseURL(u)
		if d.err != nil {
			d.err = fmt.Errorf("redistest: REDIS_URL: %w", d.err)
			return
		}
		d.target = Target{Name: "standalone", Addrs: []string{d.opts.Addr}}
		return
	}
	if !haveRedis() {
		if requireRedis() {
			d.err = fmt.Errorf("redistest: redis-server not found on PATH and REDISKIT_REQUIRE_REDIS=1")
			return
		}
		p, err := startEmbedded()
		if err != nil {
			d.skip = "redistest: redis-server not found on PATH, and the embedded Redis fallback is unavailable: " + err.Error()
			fmt.Fprintln(os.Stderr, d.skip)
			return
		}
		fmt.Fprintln(os.Stderr, "redistest: redis-server not found on PATH; standalone tests use the embedded Redis (miniredis, examples/cmd/embeddedredis) on "+p.addr+" (cluster tests skip)")
		d.target = Target{Name: "standalone", Embedded: true, Addrs: []string{p.addr}}
		return
	}
	p, err := startShared("standalone", false, nil)
	if err != nil {
		d.err = err
		return
	}
	d.target = Target{Name: "standalone", Addrs: []string{p.addr()}}
}

// ClusterTarget returns the shared 3-master cluster, starting it on first
// use. It skips t when redis-server is missing (fails under
// REDISKIT_REQUIRE_REDIS=1).
func ClusterTarget(t testing.TB) Target {
	t.Helper()
	cluster.once.Do(func() {
		if !haveRedis() {
			cluster.skip = "cluster tests need a real server"
			return
		}
		cluster.target, cluster.err = startCluster()
	})
	if cluster.skip != "" {
		skipMissing(t, cluster.skip)
	}
	if cluster.err != nil {
		t.Fatal(cluster.err)
	}
	return cluster.target
}

// Standalone returns a client to the shared standalone server (or REDIS_URL
// when set, or the embedded Redis fallback). Closed at t.Cleanup.
func Standalone(t testing.TB) redis.UniversalClient {
	t.Helper()
	return NewClient(t, StandaloneTarget(t))
}

// Cluster returns a *redis.ClusterClient to the shared 3-master cluster as a
// UniversalClient. It skips t when redis-server is missing (fails under
// REDISKIT_REQUIRE_REDIS=1). Closed at t.Cleanup.
func Cluster(t testing.TB) redis.UniversalClient {
	t.Helper()
	return NewClient(t, ClusterTarget(t))
}

// NewClient opens another independent client, with its own connection pool,
// to the same target (e.g. to simulate several processes), with
// ContextTimeoutEnabled set as core.New does. Closed at t.Cleanup.
func NewClient(t testing.TB, target Target) redis.UniversalClient {
	t.Helper()
	if len(target.Addrs) == 0 {
		t.Fatal("redistest: NewClient: target has no addresses")
	}
	var rdb redis.UniversalClient
	if target.Cluster {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: target.Addrs, ContextTimeoutEnabled: true})
	} else {
		opts := &redis.Options{Addr: target.Addrs[0]}
		if u := standalone.opts; u != nil && u.Addr == target.Addrs[0] {
			c := *u
			opts = &c
		}
		// Like core.New: context deadlines bound every call.
		opts.ContextTimeoutEnabled = true
		rdb = redis.NewClient(opts)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// ForEach runs fn as parallel subtests "standalone" and "cluster", each with
// a fresh client and a unique key prefix. The cluster subtest skips where
// Cluster would. Against REDIS_URL, keys under the prefix are deleted when the
// subtest ends.
func ForEach(t *testing.T, fn func(t *testing.T, tc Case)) {
	t.Helper()
	targets := []func(testing.TB) Target{StandaloneTarget, ClusterTarget}
	for i, name := range []string{"standalone", "cluster"} {
		target := targets[i]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc := Case{Target: target(t)}
			tc.RDB = NewClient(t, tc.Target)
			tc.Prefix = Prefix(t)
			if standalone.opts != nil && !tc.Target.Cluster {
				t.Cleanup(func() { deletePrefix(tc.RDB, tc.Prefix) })
			}
			fn(t, tc)
		})
	}
}

// deletePrefix unlinks every key under prefix (which holds no glob
// metacharacters) on a standalone server.
func deletePrefix(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		_ = rdb.Unlink(ctx, iter.Val()).Err()
	}
}

var prefixSeq atomic.Int64

// Prefix returns a key prefix unique to this test and call, of the form
// "rkt:<name>:<pid>.<n>" where name is t.Name() reduced to [A-Za-z0-9_./-]
// (at most 64 bytes) and n a zero-padded per-binary counter. It holds no glob
// metacharacters, and no prefix it returns begins another, so prefix+"*"
// matches only this test's keys. Keys under it never collide between parallel
// tests, nor between test binaries sharing a REDIS_URL server.
func Prefix(t testing.TB) string {
	name := []byte(t.Name())
	for i, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '/' || c == '-') {
			name[i] = '_'
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return fmt.Sprintf("rkt:%s:%d.%08d", name, os.Getpid(), prefixSeq.Add(1))
}
