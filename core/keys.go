package core

import (
	"fmt"
	"strings"
)

// MaxKeyBytes is the longest key the client accepts. Redis itself allows
// 512 MB, but a key this long is almost always a bug or an attack; features
// that build keys from user input hash long parts instead.
const MaxKeyBytes = 16 << 10

// MakeKey joins a service name and parts with ":" into a namespaced key, like
// the Python make_key: MakeKey("firstapi", "cache", "user", "123") is
// "firstapi:cache:user:123". It does not escape anything: a part that contains
// ":" stays as is. Pass user input placed in a pattern through EscapeGlob.
// The service must not be empty: every call of the Client rejects a key that
// starts with ":" (what MakeKey("", ...) builds) with ErrInvalidKey.
func MakeKey(service string, parts ...string) string {
	if len(parts) == 0 {
		return service
	}
	n := len(service) + len(parts)
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(service)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// EscapeGlob escapes the glob metacharacters of Redis patterns (* ? [ ] \) in
// s, so that s matches only itself when placed in a pattern given to
// FindKeys, InvalidatePattern or SCAN MATCH.
func EscapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// checkKey rejects keys Redis would take but that are always a mistake: an
// empty key, one built with an empty service, and one over MaxKeyBytes.
func checkKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("core: %s: %w: empty key", op, ErrInvalidKey)
	}
	if key[0] == ':' {
		return fmt.Errorf("core: %s %q: %w: empty service (the key starts with \":\")", op, key, ErrInvalidKey)
	}
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("core: %s: %w: key of %d bytes exceeds %d", op, ErrInvalidKey, len(key), MaxKeyBytes)
	}
	return nil
}
