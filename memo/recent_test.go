package memo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// TestRecentEntries checks the table of recent entries: a warm hit reuses
// the decoding of exactly the bytes it was made from and decodes anything
// else (another writer's entry, a tombstone, a new generation's), keeps no
// decoding of entries over maxRecentBytes, and keys sharing a slot take
// it in turn without ever answering for each other.
func TestRecentEntries(t *testing.T) {
	t.Parallel()
	target, csc := l1Client(t)
	rdb := redistest.NewClient(t, target) // the other writer
	clients := []struct {
		name string
		c    *core.Client
	}{{"network", core.NewFromRedis(redistest.NewClient(t, target))}, {"L1", csc}}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) { testRecentEntries(t, c.c, rdb) })
	}
}

func testRecentEntries(t *testing.T, c *core.Client, rdb redis.UniversalClient) {
	ctx := context.Background()
	var calls atomic.Int64
	fn := func(_ context.Context, k int) (string, error) {
		calls.Add(1)
		return strings.Repeat("v", k%(2*maxRecentBytes)), nil
	}
	f, err := Wrap(c, "recent", fn, Options{Namespace: redistest.Prefix(t), TTL: time.Hour, Beta: -1})
	if err != nil {
		t.Fatal(err)
	}
	get := func(k int) string {
		t.Helper()
		v, err := f.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// read is Get's read of k's entry, for its envelope (nil: none yet).
	read := func(k int) *envelope[string] {
		t.Helper()
		gen, err := f.generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slot, last := f.recent.find(k)
		lk := lookup[int, string]{k: k, slot: slot, gen: gen, key: f.entryKey(gen, defaultKey(k)), last: last}
		e, err := f.read(ctx, &lk)
		if err != nil {
			t.Fatalf("read %d: %v", k, err)
		}
		return e
	}
	// warm loads k and waits until its entry is read back (with L1, until
	// the invalidation of the cached miss has arrived).
	warm := func(k int) {
		t.Helper()
		get(k)
		redistest.Eventually(t, time.Second, "entry stored", func() bool { return read(k) != nil })
	}
	store := func(k int, value string) {
		t.Helper()
		gen, err := f.generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UnixMilli()
		data, _ := json.Marshal(envelope[string]{Created: now, Soft: now + 60_000, Hard: now + 60_000, Value: value})
		if err := rdb.Set(ctx, f.entryKey(gen, defaultKey(k)), data, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("same bytes reuse the decoding", func(t *testing.T) {
		warm(3)
		if a, b := read(3), read(3); a != b || a.Value != "vvv" {
			t.Fatalf("got envelopes %p %p (%q), want one, of \"vvv\"", a, b, a.Value)
		}
	})
	t.Run("another writer's bytes are decoded", func(t *testing.T) {
		get(4)
		store(4, "written elsewhere")
		// L1: within the time Redis's invalidation takes to arrive.
		redistest.Eventually(t, time.Second, "the other writer's value", func() bool { return get(4) == "written elsewhere" })
	})
	t.Run("a forgotten entry is loaded again", func(t *testing.T) {
		get(5)
		before := calls.Load()
		if err := f.Forget(ctx, 5); err != nil {
			t.Fatal(err)
		}
		redistest.Eventually(t, time.Second, "a load after Forget", func() bool { get(5); return calls.Load() > before })
	})
	t.Run("a new generation has its own key", func(t *testing.T) {
		warm(6)
		_, old := f.recent.find(6)
		if err := f.ForgetAll(ctx); err != nil {
			t.Fatal(err)
		}
		before := calls.Load()
		get(6)
		_, r := f.recent.find(6)
		if calls.Load() != before+1 || r == nil || r.gen == old.gen || r.key == old.key {
			t.Fatalf("got %d loads and recent entry %+v after %+v, want 1 load and the new generation's key", calls.Load()-before, r, old)
		}
	})
	t.Run("long entries keep their key only", func(t *testing.T) {
		k := maxRecentBytes + 1
		warm(k)
		for range 3 {
			if v := get(k); len(v) != k {
				t.Fatalf("got %d bytes, want %d", len(v), k)
			}
		}
		if _, r := f.recent.find(k); r == nil || r.key == "" || r.raw != "" || r.env != nil {
			t.Fatalf("got recent entry %+v, want its key and no decoding", r)
		}
	})
	t.Run("keys sharing a slot", func(t *testing.T) {
		a, b := 7, 8
		for f.recent.index(b) != f.recent.index(a) {
			b++
		}
		warm(a)
		warm(b)
		before := calls.Load()
		for range 3 {
			if va, vb := get(a), get(b); va != strings.Repeat("v", a) || vb != strings.Repeat("v", b%(2*maxRecentBytes)) {
				t.Fatalf("got %d and %d bytes for keys %d and %d", len(va), len(vb), a, b)
			}
		}
		if n := calls.Load() - before; n != 0 {
			t.Fatalf("got %d loads, want none: both entries are stored", n)
		}
	})
}

// Keys that are == without being the same key (0 and -0; one pointer
// whose pointee, which the key function renders, changed) get entries of
// their own, and keys whose == may panic (an interface holding a slice, with
// a key function) are served: for such key types the table is off.
func TestRecentEqualKeys(t *testing.T) {
	t.Parallel()
	c := core.NewFromRedis(redistest.Standalone(t))
	ctx := context.Background()
	floats, err := Wrap(c, "floats", func(_ context.Context, k float64) (float64, error) { return 1 / k, nil },
		Options{Namespace: redistest.Prefix(t), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	type pair struct {
		A int
		B float32
	}
	pairs, err := Wrap(c, "pairs", func(_ context.Context, k pair) (float32, error) { return 1 / k.B, nil },
		Options{Namespace: redistest.Prefix(t), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	anys, err := WrapKey(c, "anys", func(_ context.Context, k any) (string, error) { return fmt.Sprint(k), nil },
		func(k any) string { return fmt.Sprint(k) }, Options{Namespace: redistest.Prefix(t), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	type user struct{ ID int }
	users, err := WrapKey(c, "users", func(_ context.Context, u *user) (int, error) { return u.ID, nil },
		func(u *user) string { return strconv.Itoa(u.ID) }, Options{Namespace: redistest.Prefix(t), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u := &user{}
	for _, id := range []int{1, 1, 2, 2} { // one pointer, keyed by what it points to
		u.ID = id
		if got, err := users.Get(ctx, u); err != nil || got != id {
			t.Errorf("pointer key, ID %d: got %d, %v, want %d", id, got, err, id)
		}
	}
	negZero := math.Copysign(0, -1)
	for round := range 2 { // a miss, then a hit
		for _, tc := range []struct {
			name string
			get  func() (any, error)
			want any
		}{
			{"0", func() (any, error) { return floats.Get(ctx, 0) }, math.Inf(1)},
			{"-0", func() (any, error) { return floats.Get(ctx, negZero) }, math.Inf(-1)},
			{"struct 0", func() (any, error) { return pairs.Get(ctx, pair{1, 0}) }, float32(math.Inf(1))},
			{"struct -0", func() (any, error) { return pairs.Get(ctx, pair{1, float32(negZero)}) }, float32(math.Inf(-1))},
			{"slice", func() (any, error) { return anys.Get(ctx, []int{1, 2}) }, "[1 2]"},
			{"int", func() (any, error) { return anys.Get(ctx, 3) }, "3"},
		} {
			if got, err := tc.get(); err != nil || got != tc.want {
				t.Errorf("round %d, %s: got %v, %v, want %v", round, tc.name, got, err, tc.want)
			}
		}
	}
}
