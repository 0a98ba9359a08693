package core_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
)

type user struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

type status string

// TestEncodeGolden pins the bytes stored for each Go type: the contract shared
// with the Python library (strings raw, numbers and bools as JSON text,
// everything else JSON), so a change of encoding cannot slip through.
func TestEncodeGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"string", "noah", "noah"},
		{"string that looks like json", `{"a":1}`, `{"a":1}`},
		{"empty string", "", ""},
		{"bytes", []byte{0, 1, 0xff}, "\x00\x01\xff"},
		{"named string", status("active"), "active"},
		{"int", 21, "21"},
		{"negative int64", int64(-9007199254740993), "-9007199254740993"},
		{"uint64 max", uint64(math.MaxUint64), "18446744073709551615"},
		{"int8", int8(-8), "-8"},
		{"float64", 1.5, "1.5"},
		{"float64 integral", 2.0, "2"},
		{"float64 large", 1e21, "1e+21"},
		{"float64 small", 1e-7, "1e-7"},
		{"float32", float32(0.1), "0.1"},
		{"bool true", true, "true"},
		{"bool false", false, "false"},
		{"nil", nil, "null"},
		{"struct", user{Name: "Noah", Age: 21}, `{"name":"Noah","age":21}`},
		{"pointer to struct", &user{Name: "Alice"}, `{"name":"Alice","age":0}`},
		{"map", map[string]any{"theme": "dark"}, `{"theme":"dark"}`},
		{"slice", []int{1, 2, 3}, "[1,2,3]"},
		{"time", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), `"2026-11-27T10:00:00Z"`},
		{"raw json", json.RawMessage(`{"x":1}`), `{"x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := core.Encode(tt.value)
			if err != nil {
				t.Fatalf("Encode(%#v): got error %v, want nil", tt.value, err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode(%#v): got %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
	}{
		{"channel", make(chan int)},
		{"func", func() {}},
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"struct with a func field", struct{ F func() }{F: func() {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := core.Encode(tt.value)
			if !errors.Is(err, core.ErrEncode) {
				t.Errorf("Encode(%T): got %v, want ErrEncode", tt.value, err)
			}
		})
	}
}

// TestDecodePythonBytes decodes bytes as the Python library writes them
// (json.dumps for non-strings, raw for str).
func TestDecodePythonBytes(t *testing.T) {
	t.Parallel()
	t.Run("struct", func(t *testing.T) {
		var u user
		if err := core.Decode("k", []byte(`{"name": "Noah", "age": 21}`), &u); err != nil || u != (user{"Noah", 21}) {
			t.Errorf("got %+v, %v, want {Noah 21}, nil", u, err)
		}
	})
	t.Run("int", func(t *testing.T) {
		var n int
		if err := core.Decode("k", []byte("21"), &n); err != nil || n != 21 {
			t.Errorf("got %d, %v, want 21, nil", n, err)
		}
	})
	t.Run("int64 from counter", func(t *testing.T) {
		var n int64
		if err := core.Decode("k", []byte("-42"), &n); err != nil || n != -42 {
			t.Errorf("got %d, %v, want -42, nil", n, err)
		}
	})
	t.Run("float", func(t *testing.T) {
		var f float64
		if err := core.Decode("k", []byte("1.5"), &f); err != nil || f != 1.5 {
			t.Errorf("got %v, %v, want 1.5, nil", f, err)
		}
	})
	t.Run("bool", func(t *testing.T) {
		var b bool
		if err := core.Decode("k", []byte("true"), &b); err != nil || !b {
			t.Errorf("got %v, %v, want true, nil", b, err)
		}
	})
	t.Run("string raw", func(t *testing.T) {
		var s string
		if err := core.Decode("k", []byte(`"quoted"`), &s); err != nil || s != `"quoted"` {
			t.Errorf("got %q, %v, want the raw bytes", s, err)
		}
	})
	t.Run("any json", func(t *testing.T) {
		var v any
		if err := core.Decode("k", []byte(`{"theme":"dark"}`), &v); err != nil || v.(map[string]any)["theme"] != "dark" {
			t.Errorf("got %#v, %v, want map with theme=dark", v, err)
		}
	})
	t.Run("any falls back to string", func(t *testing.T) {
		var v any
		if err := core.Decode("k", []byte("noah"), &v); err != nil || v != "noah" {
			t.Errorf("got %#v, %v, want \"noah\"", v, err)
		}
	})
	t.Run("named string", func(t *testing.T) {
		var s status
		if err := core.Decode("k", []byte("active"), &s); err != nil || s != "active" {
			t.Errorf("got %q, %v, want active", s, err)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		dst  any
		want error
	}{
		{"text into int", "noah", new(int), core.ErrDecode},
		{"text into int64", "12abc", new(int64), core.ErrDecode},
		{"text into struct", "not json", new(user), core.ErrDecode},
		{"wrong json type", `"x"`, new(user), core.ErrDecode},
		{"overflow", "1e400", new(float64), core.ErrDecode},
		{"nil destination", "1", nil, core.ErrInvalidArgument},
		{"non-pointer", "1", 5, core.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := core.Decode("user:1", []byte(tt.data), tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var de *core.DecodeError
			if errors.As(err, &de) && de.Key != "user:1" {
				t.Errorf("DecodeError.Key: got %q, want user:1", de.Key)
			}
		})
	}
}

// TestRoundTrip checks that every encodable type decodes back to itself.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, in, out any, want any) {
		t.Helper()
		data, err := core.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := core.Decode("k", data, out); err != nil {
			t.Fatal(err)
		}
	}
	var u user
	check(t, user{"Noah", 21}, &u, nil)
	if u != (user{"Noah", 21}) {
		t.Errorf("struct: got %+v", u)
	}
	var f float64
	check(t, 0.1, &f, nil)
	if f != 0.1 {
		t.Errorf("float: got %v, want 0.1", f)
	}
	var m map[string]int
	check(t, map[string]int{"a": 1}, &m, nil)
	if m["a"] != 1 {
		t.Errorf("map: got %v", m)
	}
}
