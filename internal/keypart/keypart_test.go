package keypart_test

import (
	"strings"
	"testing"

	"github.com/rediskit/rediskit/internal/keypart"
)

func TestEncode(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 129)
	cases := []struct {
		name string
		in   string
		max  int
		kept bool
	}{
		{"short", "user-42", 128, true},
		{"at max", strings.Repeat("x", 128), 128, true},
		{"over max", long, 128, false},
		{"empty", "", 128, false},
		{"marker first", "#abc", 128, false},
		{"marker later", "a#b", 128, true},
		{"open brace", "a{b", 128, false},
		{"close brace", "a}b", 128, false},
		{"hash tag", "{slot}", 128, false},
		{"colon kept", "a:b", 128, true},
		{"max zero", "a", 0, false},
		{"max negative", "a", -1, false},
		{"unicode", "grüße", 128, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := keypart.Encode(tc.in, tc.max)
			if tc.kept {
				if got != tc.in {
					t.Errorf("Encode(%q, %d): got %q, want it unchanged", tc.in, tc.max, got)
				}
				return
			}
			if len(got) != 33 || got[0] != keypart.Marker || strings.Trim(got[1:], "0123456789abcdef") != "" {
				t.Errorf("Encode(%q, %d): got %q, want '#' and 32 hex digits", tc.in, tc.max, got)
			}
			if again := keypart.Encode(tc.in, tc.max); again != got {
				t.Errorf("Encode(%q, %d) twice: got %q and %q, want the same", tc.in, tc.max, got, again)
			}
		})
	}
}

func TestEncodeDistinct(t *testing.T) {
	t.Parallel()
	// A hashed part stays hashed when encoded again, and never equals a
	// kept one: an attacker cannot pick an id that lands on another's key.
	cases := []struct{ a, b string }{
		{"", "#"},
		{"{a}", "a"},
		{strings.Repeat("x", 200), strings.Repeat("x", 201)},
	}
	for _, tc := range cases {
		a, b := keypart.Encode(tc.a, 128), keypart.Encode(tc.b, 128)
		if a == b {
			t.Errorf("Encode(%q) and Encode(%q): got %q for both, want different parts", tc.a, tc.b, a)
		}
		if again := keypart.Encode(a, 128); again == a {
			t.Errorf("Encode(Encode(%q)): got %q, want a hashed part different from its input", tc.a, again)
		}
	}
}

func TestTag(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"u1", "{u1}"},
		{"{u1}", "{" + keypart.Encode("{u1}", 64) + "}"},
	}
	for _, tc := range cases {
		if got := keypart.Tag(tc.in, 64); got != tc.want {
			t.Errorf("Tag(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "a", "#a", "{a}", "a}b{", strings.Repeat("z", 70)} {
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := keypart.Encode(s, max)
		if strings.ContainsAny(got, "{}") {
			t.Fatalf("Encode(%q, %d): got %q, want no braces", s, max, got)
		}
		kept := got == s
		if hashed := len(got) > 0 && got[0] == keypart.Marker; kept == hashed {
			t.Fatalf("Encode(%q, %d): got %q, want either s kept or a part starting with '#'", s, max, got)
		}
		if kept && (len(s) > max || len(s) == 0) {
			t.Fatalf("Encode(%q, %d): got it kept, want it hashed (length %d)", s, max, len(s))
		}
		if tag := keypart.Tag(s, max); strings.Count(tag, "{") != 1 || strings.Count(tag, "}") != 1 {
			t.Fatalf("Tag(%q, %d): got %q, want exactly one pair of braces", s, max, tag)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	cases := []struct{ name, in string }{
		{"kept", "user-1234567"},
		{"hashed", strings.Repeat("x", 200)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = keypart.Encode(tc.in, 128)
			}
		})
	}
}

func TestEncodeKeptDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = keypart.Encode("user-42", 128) }); n != 0 {
		t.Errorf("allocations per Encode of a kept part: got %v, want 0", n)
	}
}
