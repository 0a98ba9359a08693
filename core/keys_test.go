package core_test

import (
	"testing"

	"github.com/rediskit/rediskit/core"
)

func TestMakeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service string
		parts   []string
		want    string
	}{
		{"firstapi", []string{"cache", "user", "123"}, "firstapi:cache:user:123"},
		{"auth", []string{"session", "abc123"}, "auth:session:abc123"},
		{"svc", nil, "svc"},
		{"svc", []string{""}, "svc:"},
	}
	for _, tt := range tests {
		if got := core.MakeKey(tt.service, tt.parts...); got != tt.want {
			t.Errorf("MakeKey(%q, %q): got %q, want %q", tt.service, tt.parts, got, tt.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"*", `\*`},
		{"a?b", `a\?b`},
		{"[a]", `\[a\]`},
		{`back\slash`, `back\\slash`},
		{"", ""},
		{"héllo*", `héllo\*`},
	}
	for _, tt := range tests {
		if got := core.EscapeGlob(tt.in); got != tt.want {
			t.Errorf("EscapeGlob(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSlot pins hash slots against values from CLUSTER KEYSLOT.
func TestSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},
		{"", 0},
	}
	for _, tt := range tests {
		if got := core.Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q): got %d, want %d", tt.key, got, tt.want)
		}
	}
}
