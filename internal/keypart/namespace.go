package keypart

import (
	"fmt"
	"strings"

	"github.com/rediskit/rediskit/core"
)

// CheckNamespace reports whether ns can prefix the keys of a feature: not
// empty, at most 128 bytes, not starting with ":" (an empty service), and
// free of whitespace, control characters, glob characters (* ? [ ] \) and
// braces, so the namespace can neither widen a pattern nor pin every key to
// one cluster slot. Errors match core.ErrInvalidKey (the features wrap them in their own ErrInvalidOptions).
func CheckNamespace(ns string) error {
	switch {
	case ns == "":
		return fmt.Errorf("namespace: %w: empty", core.ErrInvalidKey)
	case len(ns) > 128:
		return fmt.Errorf("namespace %q: %w: longer than 128 bytes", ns[:32]+"…", core.ErrInvalidKey)
	case ns[0] == ':':
		return fmt.Errorf("namespace %q: %w: starts with \":\" (an empty service)", ns, core.ErrInvalidKey)
	}
	for _, r := range ns {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`{}*?[]\`, r) {
			return fmt.Errorf("namespace %q: %w: no whitespace, control, glob or brace characters", ns, core.ErrInvalidKey)
		}
	}
	return nil
}
