package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/core"
)

// FuzzDecode feeds arbitrary stored bytes to every kind of target: decoding
// never panics, and a failure is always a *DecodeError naming the key.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"Noah","age":21}`, "21", "-1.5e300", "true", "null", "noah", `[`, "\xff\x00", strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		targets := []any{new(string), new([]byte), new(int), new(int64), new(float64), new(bool), new(user), new(any), new(map[string]any), new([]int)}
		for _, dst := range targets {
			err := core.Decode("fuzz:key", data, dst)
			if err == nil {
				continue
			}
			var de *core.DecodeError
			if !errors.As(err, &de) || de.Key != "fuzz:key" || !errors.Is(err, core.ErrDecode) {
				t.Fatalf("Decode into %T: got %v, want a DecodeError naming fuzz:key", dst, err)
			}
		}
		var s string
		if err := core.Decode("k", data, &s); err != nil || s != string(data) {
			t.Fatalf("Decode into *string: got %q, %v, want the raw bytes", s, err)
		}
	})
}

// FuzzEscapeGlob checks that an escaped string, read back the way Redis
// reads a pattern, is exactly the input, with no metacharacter left active.
func FuzzEscapeGlob(f *testing.F) {
	for _, s := range []string{"a*b", "a?b", "a[x]b", `a\b`, "*", "", "plain", `\*[]?`, "{tag}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := core.EscapeGlob(s)
		var lit strings.Builder
		for i := 0; i < len(p); i++ {
			switch c := p[i]; c {
			case '\\':
				if i+1 == len(p) {
					t.Fatalf("EscapeGlob(%q) = %q ends in a lone backslash", s, p)
				}
				i++
				lit.WriteByte(p[i])
			case '*', '?', '[', ']':
				t.Fatalf("EscapeGlob(%q) = %q leaves %q active at %d", s, p, c, i)
			default:
				lit.WriteByte(c)
			}
		}
		if lit.String() != s {
			t.Fatalf("EscapeGlob(%q) = %q reads back as %q", s, p, lit.String())
		}
	})
}

// FuzzEncodeString checks that strings and their parts round-trip through
// MakeKey, Encode and Decode unchanged.
func FuzzEncodeString(f *testing.F) {
	f.Add("firstapi", "user:123")
	f.Add("", "\x00\xff")
	f.Fuzz(func(t *testing.T, service, part string) {
		key := core.MakeKey(service, part)
		if !strings.HasPrefix(key, service+":") || !strings.HasSuffix(key, part) || len(key) != len(service)+1+len(part) {
			t.Fatalf("MakeKey(%q, %q) = %q", service, part, key)
		}
		data, err := core.Encode(part)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := core.Decode(key, data, &got); err != nil || got != part {
			t.Fatalf("round trip of %q: got %q, %v", part, got, err)
		}
	})
}
