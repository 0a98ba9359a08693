package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/adapters/nethttp"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/ratelimit"
)

// kinds builds one limiter of every kind (10 units per hour, clock pinned
// mid-window) over rdb under prefix.
func kinds(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock) map[string]ratelimit.Limiter {
	t.Helper()
	return kindsTimeout(t, rdb, prefix, clk, 10*time.Second) // -race on a busy machine
}

func kindsTimeout(t *testing.T, rdb redis.UniversalClient, prefix string, clk *clock, to time.Duration) map[string]ratelimit.Limiter {
	t.Helper()
	c := core.NewFromRedis(rdb)
	fw, err1 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 10, Window: time.Hour, Prefix: prefix, Now: clk.Now, Timeout: to})
	fs, err2 := ratelimit.NewFixedWindow(c, ratelimit.Options{Limit: 10, Window: time.Hour, Prefix: prefix + "s", Now: clk.Now, Timeout: to})
	ratelimit.ForceScript(fs)
	g, err3 := ratelimit.NewGCRA(c, ratelimit.GCRAOptions{Rate: 10, Period: time.Hour, Prefix: prefix, Now: clk.Now, Timeout: to})
	m, err4 := ratelimit.NewMulti(c, ratelimit.MultiOptions{Prefix: prefix, Now: clk.Now, Timeout: to,
		Policies: []ratelimit.Policy{{Name: "h", Limit: 10, Window: time.Hour}, {Name: "d", Limit: 100, Window: 24 * time.Hour}}})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return map[string]ratelimit.Limiter{"fixed-batched": fw, "fixed-script": fs, "gcra": g, "multi": m}
}

// A connection reset after Redis ran a decision (reply lost) makes go-redis
// see a network error; it must not resend the decision (MaxRetries is at its
// default of 3 here). The hit is counted exactly once and the call fails.
func TestResetDuringDecisionCountsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	direct := srv.Client(t, nil)
	for _, name := range []string{"fixed-batched", "fixed-script", "gcra", "multi"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := faultproxy.New(t, srv.Addr())
			c, err := core.New(core.Config{URL: "redis://" + p.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			clk := midWindow(time.Hour)
			prefix := redistest.Prefix(t)
			lim := kinds(t, c.Redis(), prefix, clk)[name]
			check := kinds(t, direct, prefix, clk)[name]
			ctx := context.Background()
			for range 3 { // warm: connections open, scripts cached
				if _, err := lim.Allow(ctx, "warm"); err != nil {
					t.Fatalf("warm-up: %v", err)
				}
			}
			for i := range 2 {
				if res, err := lim.Allow(ctx, "k"); err != nil || !res.Allowed {
					t.Fatalf("hit %d: got %+v, %v, want allowed", i, res, err)
				}
			}
			p.ResetNext()
			if res, err := lim.Allow(ctx, "k"); err == nil || res.Allowed {
				t.Fatalf("decision with a reset connection: got %+v, %v, want an error", res, err)
			}
			res, err := check.Peek(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Limit - res.Remaining; got != 3 {
				t.Fatalf("hits counted after 2 decisions and 1 reset one: got %d, want 3 (the reset one exactly once)", got)
			}
			if res, err := lim.Allow(ctx, "k"); err != nil || res.Remaining != 6 {
				t.Fatalf("after the reset: got %+v, %v, want allowed with 6 left", res, err)
			}
		})
	}
}

// Every limiter works for a least-privilege ACL user, and Check names a
// missing permission at start-up.
func TestACLUserAndCheck(t *testing.T) {
	t.Parallel()
	const base = "on >pw ~rl:* ~rls:* &* +@all -@dangerous -@admin"
	srv := redistest.StartServer(t, redistest.ServerOptions{ConfigLines: []string{
		"user default off",
		"user app " + base,
		"user noevalsha " + base + " -evalsha",
		"user noeval " + base + " -eval",
		"user nopexpire " + base + " -pexpire",
		"user otherkeys on >pw ~other:* &* +@all -@dangerous -@admin",
	}})
	all := func(s string) map[string]string {
		return map[string]string{"fixed-batched": s, "fixed-script": s, "gcra": s, "multi": s}
	}
	cases := []struct {
		user string
		want map[string]string // per limiter: "" works, else a text the Check error holds
	}{
		{"app", all("")},
		{"noevalsha", all("evalsha")},
		{"noeval", all("'eval'")},
		{"nopexpire", map[string]string{"fixed-batched": "pexpire", "fixed-script": "pexpire", "gcra": "", "multi": "pexpire"}},
		{"otherkeys", all("no permissions to access")},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			c, err := core.New(core.Config{URL: "redis://" + tc.user + ":pw@" + srv.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			ctx := context.Background()
			for name, l := range kinds(t, c.Redis(), "rl", midWindow(time.Hour)) {
				err := l.(interface{ Check(context.Context) error }).Check(ctx)
				want := tc.want[name]
				if want == "" {
					if err != nil {
						t.Fatalf("%s Check: %v", name, err)
					}
					res, err1 := l.Allow(ctx, tc.user)
					_, err2 := l.Peek(ctx, tc.user)
					if err := errors.Join(err1, err2, l.Reset(ctx, tc.user)); err != nil || !res.Allowed {
						t.Fatalf("%s as %s: got %+v, %v, want allowed and no error", name, tc.user, res, err)
					}
					continue
				}
				if err == nil || !strings.HasPrefix(err.Error(), "ratelimit: check: ") || !strings.Contains(strings.ToLower(err.Error()), want) {
					t.Fatalf("%s Check as %s: got %v, want a \"ratelimit: check: \" error naming %s", name, tc.user, err, want)
				}
			}
		})
	}
	t.Cleanup(func() {
		left, _ := srv.Client(t, &redis.Options{Username: "app", Password: "pw"}).Keys(context.Background(), "rl*:check:*").Result()
		if len(left) != 0 {
			t.Errorf("probe keys left by Check: got %q, want none", left)
		}
	})
}

// A counter evicted under allkeys-lru restarts that client's window (the
// documented fail-open direction); the limiter keeps deciding, no error.
func TestEvictedCounterRestartsWindow(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"}})
	rdb := srv.Client(t, nil)
	clk := midWindow(time.Hour)
	lim := kinds(t, rdb, "rl", clk)["fixed-script"]
	ctx := context.Background()
	for range 10 {
		if _, err := lim.Allow(ctx, "victim"); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := lim.Peek(ctx, "victim"); res.Remaining != 0 {
		t.Fatalf("before eviction: got %d left, want 0", res.Remaining)
	}
	lim = kinds(t, rdb, "rl", clk)["fixed-script"] // a fresh deny cache: ask Redis
	filler := strings.Repeat("x", 16<<10)
	for i := range 2000 { // 32 MB through a 2 MB Redis
		if err := rdb.Set(ctx, fmt.Sprint("fill:", i), filler, 0).Err(); err != nil {
			t.Fatalf("filling: %v", err)
		}
	}
	if n := rdb.Exists(ctx, "rls:fw:{victim}:default:3600000:"+fmt.Sprint(clk.Now().UnixNano()/int64(time.Hour))).Val(); n != 0 {
		t.Skip("the counter survived 32 MB of filler under a 2 MB maxmemory")
	}
	if res, err := lim.Allow(ctx, "victim"); err != nil || !res.Allowed || res.Remaining != 9 {
		t.Fatalf("after eviction: got %+v, %v, want a fresh window (allowed, 9 left)", res, err)
	}
}

// Hostile ids cannot pick a slot, reach another id's counter or a pattern:
// braces and long ids are hashed, glob characters are plain bytes.
func TestHostileKeysStayApart(t *testing.T) {
	t.Parallel()
	ids := []string{"victim", "{victim}", "x{victim}", "victim}", "{}", "*", "victim*", "[v]ictim", "?", `\`, "a:b",
		strings.Repeat("v", 129), "user:{victim}|route:/"}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		clk := midWindow(time.Hour)
		for name, lim := range kinds(t, tc.RDB, tc.Prefix, clk) {
			for i, id := range ids {
				for range i + 1 {
					if _, err := lim.Allow(ctx, id); err != nil {
						t.Fatalf("%s Allow(%q): %v", name, id, err)
					}
				}
			}
			for i, id := range ids {
				if res, err := lim.Peek(ctx, id); err != nil || res.Limit-res.Remaining != min(i+1, 10) {
					t.Fatalf("%s Peek(%q): got %+v, %v, want %d used", name, id, res, err, min(i+1, 10))
				}
			}
			if err := lim.Reset(ctx, "*"); err != nil {
				t.Fatal(err)
			}
			if res, _ := lim.Peek(ctx, "victim"); res.Limit-res.Remaining != 1 {
				t.Fatalf("%s: Reset(\"*\") touched \"victim\": got %d used, want 1", name, res.Limit-res.Remaining)
			}
		}
		allowed := map[string]bool{}
		for _, id := range ids {
			if len(id) <= 128 && !strings.ContainsAny(id, "{}") {
				allowed[id] = true
			}
		}
		err := forEachKey(tc.RDB, tc.Prefix, func(_ *redis.Client, key string) {
			open, shut := strings.Index(key, "{"), strings.Index(key, "}")
			if strings.Count(key, "{") != 1 || strings.Count(key, "}") != 1 || shut < open || len(key) > 250 {
				t.Errorf("key %q: want exactly one {tag} and at most 250 bytes", key)
				return
			}
			if tag := key[open+1 : shut]; !allowed[tag] && !(strings.HasPrefix(tag, "h-") && len(tag) == 34) {
				t.Errorf("key %q: tag %q is neither a plain id nor a hash", key, tag)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A 1 MiB URL through the middleware, keyed by path: no panic, a normal
// answer, and a short, hashed Redis key.
func TestHugeURLThroughMiddleware(t *testing.T) {
	t.Parallel()
	rdb := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	lim := kinds(t, rdb, prefix, midWindow(time.Hour))["fixed-batched"]
	h := nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{
		HTTPOptions: ratelimit.HTTPOptions{Limiter: lim, FailClosed: true},
		Key:         ratelimit.KeyByRoute(func(r *http.Request) string { return r.URL.Path }),
	})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	path := "/" + strings.Repeat("a{*}", 1<<18)
	for i, want := range []string{"9", "8"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusNoContent || !strings.Contains(w.Header().Get("RateLimit"), ";r="+want+";") {
			t.Fatalf("request %d: got %d, RateLimit %q, want 204 with r=%s", i, w.Code, w.Header().Get("RateLimit"), want)
		}
	}
	keys := 0
	err := forEachKey(rdb, prefix, func(_ *redis.Client, key string) {
		keys++
		if len(key) > 200 {
			t.Errorf("key of %d bytes, want the id hashed", len(key))
		}
	})
	if err != nil || keys != 1 {
		t.Fatalf("keys under the prefix: got %d (%v), want 1", keys, err)
	}
}

// A stopped master makes the cluster answer CLUSTERDOWN: a decision fails
// at once, and the middleware applies its policy (open: 200, closed: 503).
func TestClusterDownGoesThroughFailurePolicy(t *testing.T) {
	t.Parallel()
	srvs, addrs := dedicatedCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	lims := kindsTimeout(t, rdb, "rl", midWindow(time.Hour), 100*time.Millisecond)
	for name := range lims {
		if _, err := kinds(t, rdb, "rl", midWindow(time.Hour))[name].Allow(ctx, "k"); err != nil {
			t.Fatalf("%s before the failure: %v", name, err)
		}
	}
	srvs[0].Stop()
	waitClusterState(t, addrs[1], "fail")
	for name, l := range lims {
		for _, failClosed := range []bool{false, true} {
			var reported, clusterDown atomic.Int64
			h := nethttp.RateLimitWithOptions(nethttp.RateLimitOptions{
				HTTPOptions: ratelimit.HTTPOptions{Limiter: l, FailClosed: failClosed,
					OnError: func(_ *http.Request, err error) {
						reported.Add(1)
						if strings.Contains(err.Error(), "CLUSTERDOWN") {
							clusterDown.Add(1)
						}
					}},
			})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			for i := range 6 { // ids spread over every master's slots
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				want := map[bool]int{false: 200, true: 503}[failClosed]
				if w.Code != want || time.Since(start) > time.Second {
					t.Fatalf("%s failClosed=%v: got %d after %v, want %d", name, failClosed, w.Code, time.Since(start), want)
				}
			}
			// Keys on the stopped master time out; the others get CLUSTERDOWN.
			if reported.Load() != 6 || clusterDown.Load() == 0 {
				t.Fatalf("%s failClosed=%v: got %d errors reported (%d CLUSTERDOWN), want 6 (some CLUSTERDOWN)",
					name, failClosed, reported.Load(), clusterDown.Load())
			}
		}
	}
}

// A limiter key's slot migrates between masters while requests run: MOVED
// and ASK are followed, and the count is exact.
func TestSlotMigrationKeepsExactCounts(t *testing.T) {
	t.Parallel()
	_, addrs := dedicatedCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	clk := midWindow(time.Hour)
	mk := func() *ratelimit.FixedWindow {
		l, err := ratelimit.NewFixedWindow(core.NewFromRedis(rdb), ratelimit.Options{Limit: 1_000_000, Window: time.Hour,
			Prefix: "rl", Now: clk.Now, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lim := mk()
	var ok, failed atomic.Int64
	hit := func() {
		if _, err := lim.Allow(ctx, "mover"); err != nil {
			failed.Add(1)
			t.Errorf("Allow during migration: %v", err)
			return
		}
		ok.Add(1)
	}
	hit() // the key exists on its first master
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					hit()
				}
			}
		})
	}
	key := "rl:fw:{mover}:default:3600000:" + fmt.Sprint(clk.Now().UnixNano()/int64(time.Hour))
	migrateSlot(t, addrs, key, func() {
		for range 50 { // the key moved, the slot not yet: ASK
			hit()
		}
	})
	for range 50 { // the slot moved: MOVED, then the new map
		hit()
	}
	close(stop)
	wg.Wait()
	res, err := mk().Peek(ctx, "mover")
	if err != nil {
		t.Fatal(err)
	}
	if used := int64(res.Limit - res.Remaining); used != ok.Load() || failed.Load() != 0 {
		t.Fatalf("counted %d, want %d (allowed calls), with %d failures, want 0", used, ok.Load(), failed.Load())
	}
}

// dedicatedCluster starts a 3-master cluster this test may break (the
// shared one from redistest must stay whole).
func dedicatedCluster(t *testing.T) ([]*redistest.Server, []string) {
	t.Helper()
	var srvs []*redistest.Server
	var addrs []string
	for range 3 {
		s := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "500"}})
		srvs, addrs = append(srvs, s), append(addrs, s.Addr())
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		waitClusterState(t, a, "ok")
	}
	return srvs, addrs
}

// waitClusterState polls CLUSTER INFO on addr until cluster_state is state.
func waitClusterState(t *testing.T, addr, state string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:"+state+"\r\n") &&
			(state != "ok" || strings.Contains(info, "cluster_known_nodes:3\r\n")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: cluster_state not %s within 10s: %v %q", addr, state, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// migrateSlot moves key's slot from its master to another one: IMPORTING
// and MIGRATING, MIGRATE of every key in the slot, during(), then SETSLOT
// NODE on both.
func migrateSlot(t *testing.T, addrs []string, key string, during func()) {
	t.Helper()
	ctx := context.Background()
	slot := core.Slot(key)
	nodes := map[string]*redis.Client{}
	ids := map[string]string{}
	for _, a := range addrs {
		nodes[a] = redis.NewClient(&redis.Options{Addr: a})
		defer nodes[a].Close()
		ids[a] = nodes[a].ClusterMyID(ctx).Val()
	}
	var src, dst string
	for _, a := range addrs {
		if n, _ := nodes[a].ClusterCountKeysInSlot(ctx, int(slot)).Result(); n > 0 {
			src = a
		}
	}
	if src == "" {
		t.Fatalf("no master holds %s yet", key)
	}
	for _, a := range addrs {
		if a != src {
			dst = a
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nodes[dst].Do(ctx, "cluster", "setslot", slot, "importing", ids[src]).Err())
	must(nodes[src].Do(ctx, "cluster", "setslot", slot, "migrating", ids[dst]).Err())
	host, port, _ := strings.Cut(dst, ":")
	for {
		keys, err := nodes[src].ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", host, port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(nodes[src].Do(ctx, args...).Err())
	}
	during()
	for _, a := range []string{dst, src} {
		must(nodes[a].Do(ctx, "cluster", "setslot", slot, "node", ids[dst]).Err())
	}
}
