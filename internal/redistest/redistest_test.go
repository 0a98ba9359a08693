package redistest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestStandaloneAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Standalone(t)
	key := redistest.Prefix(t) + ":k"
	if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Fatalf("GET: got %q, %v, want %q", got, err, "v")
	}
}

func TestClusterSpreadsKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	target := redistest.ClusterTarget(t)
	rdb := redistest.Cluster(t)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("got %T, want *redis.ClusterClient", rdb)
	}
	prefix := redistest.Prefix(t)
	for i := range 64 {
		if err := rdb.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), i, time.Minute).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
	if len(target.Addrs) != 3 {
		t.Fatalf("got %d cluster addrs, want 3", len(target.Addrs))
	}
	for _, addr := range target.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		keys, _, err := node.Scan(ctx, 0, prefix+":*", 1000).Result()
		node.Close()
		if err != nil {
			t.Fatalf("SCAN %s: %v", addr, err)
		}
		if len(keys) == 0 {
			t.Errorf("master %s holds none of the 64 keys, want some", addr)
		}
	}
}

func TestPrefixUnique(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"plain", "glob*?[x]\\y", "spaces and:colons", strings.Repeat("long", 40)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const n = 200
			got := make([]string, n)
			var wg sync.WaitGroup
			for i := range got {
				wg.Go(func() { got[i] = redistest.Prefix(t) })
			}
			wg.Wait()
			seen := map[string]bool{}
			for _, p := range got {
				if seen[p] {
					t.Fatalf("prefix %q returned twice", p)
				}
				seen[p] = true
				if !strings.HasPrefix(p, "rkt:") || strings.ContainsAny(p, "*?[]\\ ") {
					t.Fatalf("got prefix %q, want rkt:… without glob metacharacters or spaces", p)
				}
			}
			for _, a := range got[:20] {
				for _, b := range got {
					if a != b && strings.HasPrefix(b, a) {
						t.Fatalf("prefix %q begins prefix %q", a, b)
					}
				}
			}
		})
	}
}

func TestForEach(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		if want := t.Name()[strings.LastIndex(t.Name(), "/")+1:]; tc.Target.Name != want {
			t.Fatalf("got target %q, want %q", tc.Target.Name, want)
		}
		other := redistest.NewClient(t, tc.Target)
		key := tc.Prefix + ":k"
		if err := tc.RDB.Set(ctx, key, "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if got, err := other.Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("GET from second client: got %q, %v, want %q", got, err, "v")
		}
	})
}

func TestServerStopRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	addr := srv.Addr()
	rdb := srv.Client(t, &redis.Options{MaxRetries: -1, DialTimeout: time.Second})
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING before stop: %v", err)
	}
	srv.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING after Stop: got nil error, want one")
	}
	srv.Restart()
	if got := srv.Addr(); got != addr {
		t.Fatalf("Addr after Restart: got %s, want %s", got, addr)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	files := redistest.GenerateTLS(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{TLS: files})
	tests := []struct {
		name    string
		tls     *tls.Config // nil: plain text
		wantErr string
	}{
		{"right CA", tlsConfig(t, files.CAFile), ""},
		{"wrong CA", tlsConfig(t, files.WrongCAFile), "certificate"},
		{"plain text", nil, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), TLSConfig: tt.tls, MaxRetries: -1})
			t.Cleanup(func() { rdb.Close() })
			err := rdb.Ping(context.Background()).Err()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("PING: got %v, want no error", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("PING: got no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("PING: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("Client trusts the CA", func(t *testing.T) {
		if err := srv.Client(t, nil).Ping(context.Background()).Err(); err != nil {
			t.Fatalf("PING: got %v, want no error", err)
		}
	})
}

func tlsConfig(t *testing.T, caFile string) *tls.Config {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestServerACLAndArgs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{
		Args:        []string{"--maxmemory", "1mb"},
		ConfigLines: []string{"user alice on >pw ~app:* +@all"},
	})
	alice := srv.Client(t, &redis.Options{Username: "alice", Password: "pw"})
	tests := []struct {
		key     string
		wantErr string
	}{
		{"app:x", ""},
		{"other:x", "NOPERM"},
	}
	for _, tt := range tests {
		err := alice.Set(ctx, tt.key, "1", 0).Err()
		if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("SET %s as alice: got %v, want error %q", tt.key, err, tt.wantErr)
		}
	}
	got, err := srv.Client(t, nil).ConfigGet(ctx, "maxmemory").Result()
	if err != nil || got["maxmemory"] != "1048576" {
		t.Errorf("CONFIG GET maxmemory: got %v, %v, want 1048576", got, err)
	}
}

func TestEventually(t *testing.T) {
	t.Parallel()
	n := 0
	redistest.Eventually(t, time.Second, "third call", func() bool { n++; return n >= 3 })
	if n != 3 {
		t.Fatalf("got %d calls, want 3", n)
	}
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine through runtime.Goexit
		defer close(done)
		redistest.Eventually(ft, 10*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !strings.Contains(ft.msg, "never: not reached within 10ms") {
		t.Fatalf("got %q, want a failure naming the condition", ft.msg)
	}
}

// fatalRecorder records Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestEmbeddedFallback starts what Standalone falls back to where
// redis-server is not installed: the embedded Redis of the examples module,
// built and run as a child process. Keys expire in real time there.
func TestEmbeddedFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/cmd/embeddedredis")
	}
	addr, stop := redistest.StartEmbedded(t)
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 2*time.Second, "the key expires", func() bool {
		n, err := rdb.Exists(ctx, "k").Result()
		return err == nil && n == 0
	})
}

func TestSentinelStarts(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	m, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the sentinels: %v", err)
	}
	t.Logf("master %s, sentinels %v", m, s.SentinelAddrs)
}

func TestReplicaClusterStarts(t *testing.T) {
	t.Parallel()
	c := redistest.StartReplicaCluster(t)
	if n := len(c.Masters()); n != 3 {
		t.Fatalf("%d masters, want 3", n)
	}
	if n := len(c.Addrs); n != 6 {
		t.Fatalf("%d nodes, want 6", n)
	}
}
