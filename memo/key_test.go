package memo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

type point struct{ X, Y int }

type color string

type secret struct {
	id   int
	name string
}

type withTime struct {
	At time.Time
}

func TestDefaultKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxKeyLen+1)
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"string", defaultKey("ada"), "ada"},
		{"int", defaultKey(-42), "-42"},
		{"uint8", defaultKey(uint8(7)), "7"},
		{"float", defaultKey(1.5), "1.5"},
		{"bool", defaultKey(true), "true"},
		{"named string", defaultKey(color("red")), "red"},
		{"max length kept", defaultKey(long[:maxKeyLen]), long[:maxKeyLen]},
		{"long hashed", defaultKey(long), hashKey(long)},
		{"hash-like hashed", defaultKey("#abc"), hashKey("#abc")},
		{"struct", defaultKey(point{1, 2}), hashKey("memo.point{X:1, Y:2}")},
		{"unexported fields count", defaultKey(secret{1, "a"}), hashKey(`memo.secret{id:1, name:"a"}`)},
		{"time via GoString", defaultKey(withTime{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}),
			hashKey("memo.withTime{At:time.Date(2024, time.January, 2, 3, 4, 5, 0, time.UTC)}")},
		{"hash tag hashed", defaultKey("{user}1"), hashKey("{user}1")},
		{"open brace hashed", defaultKey("a{b"), hashKey("a{b")},
		{"close brace hashed", defaultKey(color("a}b")), hashKey("a}b")},
		{"empty hashed", defaultKey(""), hashKey("")},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if h := hashKey(long); len(h) != 33 || h[0] != '#' {
		t.Errorf("hashed key: got %q, want '#' and 32 hex digits", h)
	}
	if defaultKey(point{1, 2}) == defaultKey(point{2, 1}) {
		t.Error("distinct structs: got the same key, want different ones")
	}
}

// TestHitKey checks that the keys Get builds itself for integer keys are
// the entry keys of the default key function.
func TestHitKey(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: Wrap does not touch Redis
	t.Cleanup(func() { _ = rdb.Close() })
	c := core.NewFromRedis(rdb)
	fn := func(context.Context, int64) (int, error) { return 0, nil }
	f, err := Wrap(c, "hitkey", fn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.intKey {
		t.Fatal("intKey: got false, want true")
	}
	for _, k := range []int64{0, 42, -7, 1 << 62, -1 << 63} {
		for _, gen := range []int64{1, 1764243000000, 1764243000001} {
			part, _ := f.keyOf(k)
			if got, want := f.hitKey(gen, k, ""), f.entryKey(gen, part); got != want {
				t.Errorf("hitKey(%d, %d): got %q, want %q", gen, k, got, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		key  func() (string, bool)
		want string
	}{
		{"int", func() (string, bool) { b, ok := appendIntKey(nil, -3); return string(b), ok }, defaultKey(-3)},
		{"int32", func() (string, bool) { b, ok := appendIntKey(nil, int32(-3)); return string(b), ok }, defaultKey(int32(-3))},
		{"uint", func() (string, bool) { b, ok := appendIntKey(nil, uint(3)); return string(b), ok }, defaultKey(uint(3))},
		{"uint32", func() (string, bool) { b, ok := appendIntKey(nil, uint32(3)); return string(b), ok }, defaultKey(uint32(3))},
		{"uint64", func() (string, bool) { b, ok := appendIntKey(nil, uint64(1<<63)); return string(b), ok }, defaultKey(uint64(1 << 63))},
	} {
		if got, ok := tc.key(); !ok || got != tc.want {
			t.Errorf("%s: got %q, %v, want %q, true", tc.name, got, ok, tc.want)
		}
	}
	g, err := WrapKey(c, "hitkey", func(context.Context, int64) (int, error) { return 0, nil },
		func(k int64) string { return "k" + defaultKey(k) }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.intKey {
		t.Error("intKey with WrapKey: got true, want false")
	}
}

func TestKeyFunc(t *testing.T) {
	t.Parallel()
	type bad struct{ P *int }
	type badInner struct{ t struct{ c chan int } }
	type withAny struct{ V any }
	type withError struct{ err error }
	cases := []struct {
		name    string
		build   func() error
		wantErr error
	}{
		{"pointer key", func() error { _, err := keyFunc[*int](nil); return err }, ErrInvalidOptions},
		{"struct with pointer", func() error { _, err := keyFunc[bad](nil); return err }, ErrInvalidOptions},
		{"nested chan", func() error { _, err := keyFunc[badInner](nil); return err }, ErrInvalidOptions},
		// An interface may hold a pointer at run time, printed as an address.
		{"interface key", func() error { _, err := keyFunc[any](nil); return err }, ErrInvalidOptions},
		{"struct with interface", func() error { _, err := keyFunc[withAny](nil); return err }, ErrInvalidOptions},
		{"unexported interface", func() error { _, err := keyFunc[withError](nil); return err }, ErrInvalidOptions},
		{"pointer with a key function", func() error {
			_, err := keyFunc[*int](func(p *int) string { return "x" })
			return err
		}, nil},
	}
	for _, c := range cases {
		if err := c.build(); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.wantErr)
		}
	}
	kf, err := keyFunc[point](func(p point) string { return "p" + defaultKey(p.X) })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kf(point{X: 3}); got != "p3" || err != nil {
		t.Errorf("key function: got (%q, %v), want (\"p3\", nil)", got, err)
	}
	if _, err := kf(point{}); err != nil {
		t.Errorf("key function: got %v, want nil", err)
	}
	braces, _ := keyFunc[int](func(int) string { return "{tag}" })
	if got, _ := braces(1); got != hashKey("{tag}") {
		t.Errorf("key function result with braces: got %q, want %q (never a hash tag)", got, hashKey("{tag}"))
	}
	empty, _ := keyFunc[int](func(int) string { return "" })
	if _, err := empty(1); !errors.Is(err, core.ErrInvalidKey) || !strings.HasPrefix(err.Error(), "memo: ") {
		t.Errorf("empty key function result: got %v, want core.ErrInvalidKey prefixed \"memo: \"", err)
	}
}

func TestWrapValidation(t *testing.T) {
	t.Parallel()
	c := core.NewFromRedis(redistest.Standalone(t))
	fn := func(context.Context, int) (int, error) { return 0, nil }
	cases := []struct {
		name string
		opts Options
		fn   string
	}{
		{"empty name", Options{}, ""},
		{"colon in name", Options{}, "a:b"},
		{"brace in name", Options{}, "a{b}"},
		{"negative TTL", Options{TTL: -time.Second}, "n"},
		{"tiny TTL", Options{TTL: time.Microsecond}, "n"},
		{"jitter too large", Options{Jitter: 0.6}, "n"},
		{"brace in namespace", Options{Namespace: "{x}"}, "n"},
		{"negative timeout", Options{Timeout: -1}, "n"},
	}
	for _, tc := range cases {
		if _, err := Wrap(c, tc.fn, fn, tc.opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: got %v, want ErrInvalidOptions", tc.name, err)
		}
	}
	if _, err := Wrap(c, "ok", fn, Options{}); err != nil {
		t.Errorf("zero Options: got %v, want nil", err)
	}
	if _, err := WrapKey(c, "ok", fn, nil, Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("WrapKey with a nil key function: got %v, want ErrInvalidOptions", err)
	}
	key := func(k int) string { return "k" }
	if _, err := WrapKey(c, "ok", fn, key, Options{}); err != nil {
		t.Errorf("WrapKey: got %v, want nil", err)
	}
	for name, must := range map[string]func(){
		"MustWrap": func() { MustWrap(c, "", fn, Options{}) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.HasPrefix(p.(string), "memo: ") {
					t.Errorf("%s with bad name: got panic %v, want one prefixed \"memo: \"", name, p)
				}
			}()
			must()
		}()
	}
}

func TestJitterBounds(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ttl := 10 * time.Second
		cases := []struct {
			name   string
			jitter float64
			lo, hi time.Duration // bounds of soft − created
			spread bool          // values must differ
		}{
			{"default", 0, 9 * time.Second, 11 * time.Second, true},
			{"25%", 0.25, 7500 * time.Millisecond, 12500 * time.Millisecond, true},
			{"off", -1, ttl, ttl, false},
		}
		for i, jc := range cases {
			fn := func(_ context.Context, k int) (int, error) { return k, nil }
			f, err := Wrap(core.NewFromRedis(tc.RDB), "j"+defaultKey(i), fn,
				Options{Namespace: tc.Prefix, TTL: ttl, Jitter: jc.jitter, StaleIfError: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			checkJitter(t, f, jc.name, jc.lo, jc.hi, jc.spread)
		}
	})
}

func checkJitter(t *testing.T, f *Func[int, int], name string, lo, hi time.Duration, spread bool) {
	t.Helper()
	ctx := context.Background()
	seen := map[int64]bool{}
	var minTTL, maxTTL int64 = 1 << 62, 0
	for k := range 200 {
		if _, err := f.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
		gen, err := f.generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.readOnce(ctx, f.entryKey(gen, defaultKey(k)), false)
		if err != nil || e == nil {
			t.Fatalf("%s: entry %d: got (%v, %v), want it stored", name, k, e, err)
		}
		d := e.Soft - e.Created
		minTTL, maxTTL = min(minTTL, d), max(maxTTL, d)
		seen[d] = true
		if e.Hard-e.Soft != 1000 {
			t.Fatalf("%s: hard − soft: got %dms, want 1000ms (the StaleIfError window)", name, e.Hard-e.Soft)
		}
	}
	// ±1 ms: soft and created are truncated to milliseconds separately.
	if minTTL < lo.Milliseconds()-1 || maxTTL > hi.Milliseconds()+1 {
		t.Fatalf("%s: TTLs in [%d, %d] ms, want within [%d, %d]", name, minTTL, maxTTL, lo.Milliseconds(), hi.Milliseconds())
	}
	if spread && (len(seen) < 50 || maxTTL-minTTL < (hi-lo).Milliseconds()/2) {
		t.Fatalf("%s: %d distinct TTLs spanning %d ms, want them spread over the range", name, len(seen), maxTTL-minTTL)
	}
}

// TestKeyTextPicksNoSlot checks that the cluster slots of entry keys for
// user input holding a hash tag spread like any others.
func TestKeyTextPicksNoSlot(t *testing.T) {
	t.Parallel()
	f, err := Wrap(core.NewFromRedis(redistest.Standalone(t)), "slots",
		func(_ context.Context, k string) (string, error) { return k, nil }, Options{Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	slots := map[int]bool{}
	for i := range 20 {
		part, err := f.keyOf("{victim}" + defaultKey(i))
		if err != nil {
			t.Fatal(err)
		}
		slots[core.Slot(f.entryKey(1, part))] = true
	}
	if len(slots) < 10 {
		t.Fatalf("20 keys \"{victim}<n>\": got %d distinct slots, want them spread (>= 10)", len(slots))
	}
}

// TestWrapDetectsContextTimeouts checks that Wrap sees whether go-redis
// honours ctx deadlines (core.New turns it on), which decides whether each
// Redis call is bounded on the socket or by a watching goroutine.
func TestWrapDetectsContextTimeouts(t *testing.T) {
	t.Parallel()
	fromConfig := func(cfg core.Config) *core.Client {
		c, err := core.New(cfg) // does not connect
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	addr := "127.0.0.1:1" // never dialled: Wrap does not touch Redis
	cases := []struct {
		name string
		c    *core.Client
		want bool
	}{
		{"core.New standalone", fromConfig(core.Config{URL: "redis://" + addr}), true},
		{"core.New cluster", fromConfig(core.Config{ClusterAddrs: []string{addr}}), true},
		{"core.New sentinel", fromConfig(core.Config{SentinelAddrs: []string{addr}, MasterName: "m"}), true},
		{"plain go-redis client", core.NewFromRedis(redis.NewClient(&redis.Options{Addr: addr})), false},
		{"go-redis client with the option", core.NewFromRedis(redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})), true},
	}
	for _, c := range cases {
		f, err := Wrap(c.c, "ctx", func(_ context.Context, k int) (int, error) { return k, nil }, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if f.direct != c.want {
			t.Errorf("%s: direct got %v, want %v", c.name, f.direct, c.want)
		}
	}
}
