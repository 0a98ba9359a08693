package core_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// pythonInterop is Debian's Python, where python3-redis installs redis-py.
const pythonInterop = "/usr/bin/python3"

// requirePython skips t when /usr/bin/python3 with redis-py is missing, or
// fails it under REDISKIT_REQUIRE_REDIS=1 (CI installs python3-redis).
func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(pythonInterop, "-c", "import redis; print(redis.__version__)").CombinedOutput()
	if err == nil {
		t.Logf("python redis-py %s", strings.TrimSpace(string(out)))
		return
	}
	msg := pythonInterop + " with redis-py is not available (apt-get install python3-redis): " + strings.TrimSpace(string(out)) + " " + err.Error()
	if os.Getenv("REDISKIT_REQUIRE_REDIS") == "1" {
		t.Fatal(msg + "; REDISKIT_REQUIRE_REDIS=1")
	}
	t.Skip(msg)
}

// TestPythonInterop runs real Python (redis-py, doing what the Python
// library's README documents: core/testdata/python_interop.py) against a
// real redis-server: Python reads the keys core wrote, core reads the keys
// Python wrote, for strings, numbers, bools, dicts, lists, None and
// unicode, through set_value/get_value, cache_set/cache_get, increment,
// hash_set/hash_get and make_key.
func TestPythonInterop(t *testing.T) {
	requirePython(t)
	target := redistest.StandaloneTarget(t)
	if target.Embedded {
		if os.Getenv("REDISKIT_REQUIRE_REDIS") == "1" {
			t.Fatal("the Python interop test needs a real redis-server, got the embedded Redis")
		}
		t.Skip("the Python interop test needs a real redis-server (install redis-server)")
	}
	ctx := t.Context()
	rdb := redistest.NewClient(t, target)
	c := core.NewFromRedis(rdb)
	prefix := redistest.Prefix(t)

	values := map[string]any{
		"string":   "noah",
		"unicode":  "héllo wörld ✓ 日本語 🚀",
		"int":      21,
		"negative": -7,
		"float":    3.25,
		"true":     true,
		"false":    false,
		"none":     nil,
		"dict": map[string]any{"name": "Noah", "age": 21, "tags": []string{"a", "b"},
			"nested": map[string]bool{"ok": true}, "nothing": nil},
		"list": []any{1, "two", 3.5, false, nil, map[string]string{"k": "v"}},
	}
	for name, v := range values {
		if err := c.Set(ctx, core.MakeKey(prefix, "go", "value", name), v, 0); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
		if _, err := c.HashSet(ctx, core.MakeKey(prefix, "go", "hash"), name, v); err != nil {
			t.Fatalf("hash set %s: %v", name, err)
		}
	}
	cached := map[string]any{"user": "Noah", "score": 9.5}
	if err := c.CacheSet(ctx, core.MakeKey(prefix, "go", "cache"), cached); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, core.MakeKey(prefix, "go", "counter"), 5); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, pythonInterop, "testdata/python_interop.py", target.Addrs[0], prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var py struct {
		Read     map[string]any
		Expected map[string]any
		MakeKey  []string `json:"make_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(stdout))
	dec.UseNumber() // 21 and 21.0 differ
	if err := dec.Decode(&py); err != nil {
		t.Fatalf("python output %q: %v", stdout, err)
	}

	t.Run("python reads core", func(t *testing.T) {
		hash, _ := py.Read["hash"].(map[string]any)
		for name := range values {
			want := py.Expected[name]
			if got := py.Read[name]; !reflect.DeepEqual(got, want) {
				t.Errorf("get_value of core's %s: got %#v, want %#v", name, got, want)
			}
			if got := hash[name]; !reflect.DeepEqual(got, want) {
				t.Errorf("hash_get of core's %s: got %#v, want %#v", name, got, want)
			}
		}
		if got := py.Read["cache"]; !reflect.DeepEqual(got, map[string]any{"user": "Noah", "score": json.Number("9.5")}) {
			t.Errorf("cache_get of core's CacheSet: got %#v", got)
		}
		if ttl, _ := py.Read["cache_ttl"].(json.Number).Int64(); ttl < 3500 || ttl > 3600 {
			t.Errorf("TTL of core's CacheSet seen by Python: got %d s, want about 3600 (cache_set's default)", ttl)
		}
		if got := py.Read["counter"]; got != json.Number("5") {
			t.Errorf("get_value of core's counter: got %#v, want 5", got)
		}
		if got := py.Read["counter_incremented"]; got != json.Number("15") {
			t.Errorf("increment of core's counter by 10: got %#v, want 15", got)
		}
		if got := py.Read["missing"]; got != nil {
			t.Errorf("cache_get of a missing key: got %#v, want None", got)
		}
	})

	t.Run("core reads python", func(t *testing.T) {
		key := func(name string) string { return core.MakeKey(prefix, "py", "value", name) }
		hashKey := core.MakeKey(prefix, "py", "hash")
		check := func(name string, dst any, want any) {
			t.Helper()
			rv := reflect.New(reflect.TypeOf(dst).Elem())
			if found, err := c.Get(ctx, key(name), rv.Interface()); err != nil || !found {
				t.Errorf("Get python's %s: found %v, err %v", name, found, err)
			} else if got := rv.Elem().Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("Get python's %s: got %#v, want %#v", name, got, want)
			}
			rv = reflect.New(reflect.TypeOf(dst).Elem())
			if found, err := c.HashGet(ctx, hashKey, name, rv.Interface()); err != nil || !found {
				t.Errorf("HashGet python's %s: found %v, err %v", name, found, err)
			} else if got := rv.Elem().Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("HashGet python's %s: got %#v, want %#v", name, got, want)
			}
		}
		check("string", new(string), "noah")
		check("unicode", new(string), "héllo wörld ✓ 日本語 🚀")
		check("int", new(int64), int64(21))
		check("negative", new(int), -7)
		check("float", new(float64), 3.25)
		check("true", new(bool), true)
		check("false", new(bool), false)
		check("none", new(*string), (*string)(nil))
		check("dict", new(map[string]any), map[string]any{"name": "Noah", "age": 21.0,
			"tags": []any{"a", "b"}, "nested": map[string]any{"ok": true}, "nothing": nil})
		check("list", new([]any), []any{1.0, "two", 3.5, false, nil, map[string]any{"k": "v"}})

		var got map[string]any
		if found, err := c.CacheGet(ctx, core.MakeKey(prefix, "py", "cache"), &got); err != nil || !found ||
			!reflect.DeepEqual(got, map[string]any{"user": "Noah", "score": 9.5}) {
			t.Errorf("CacheGet of python's cache_set: got %#v, found %v, err %v", got, found, err)
		}
		if ttl := rdb.TTL(ctx, core.MakeKey(prefix, "py", "cache")).Val(); ttl < 3500*time.Second || ttl > time.Hour {
			t.Errorf("TTL of python's cache_set: got %v, want about 1h", ttl)
		}
		if n, err := c.Increment(ctx, core.MakeKey(prefix, "py", "counter"), 1); err != nil || n != 43 {
			t.Errorf("Increment of python's counter (1 + 41): got %d, %v, want 43", n, err)
		}
	})

	t.Run("make_key", func(t *testing.T) {
		want := []string{
			core.MakeKey("firstapi", "cache", "user", "123"),
			core.MakeKey("auth", "session", "abc123"),
			core.MakeKey("svc"),
		}
		if !reflect.DeepEqual(py.MakeKey, want) {
			t.Errorf("make_key: python %q, core %q", py.MakeKey, want)
		}
	})
}
