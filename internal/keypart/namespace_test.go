package keypart

import (
	"errors"
	"testing"

	"github.com/rediskit/rediskit/core"
)

func TestCheckNamespace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ns string
		ok bool
	}{
		{"memo", true}, {"shop:views", true}, {"rkt:Test/x:1.00000001", true},
		{"", false}, {":x", false}, {"a{b}", false}, {"a*", false}, {"a b", false}, {"a\nb", false},
		{string(make([]byte, 129)), false},
	}
	for _, tt := range tests {
		err := CheckNamespace(tt.ns)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, core.ErrInvalidKey)) {
			t.Errorf("CheckNamespace(%q): got %v, want ok=%v", tt.ns, err, tt.ok)
		}
	}
}
