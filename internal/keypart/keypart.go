// Package keypart is the one encoding of user-supplied key parts (ids,
// visitor names, request keys) for every feature of the toolkit.
//
// Encode keeps a short, safe part as it is, so keys stay readable, and
// replaces anything else by Marker and 32 hex digits of its SHA-256. The
// encoding is injective in practice: a kept part never starts with Marker
// and a hashed one always does, so a kept part never equals a hashed one,
// and two hashed parts collide only if SHA-256 truncated to 128 bits does.
// Its output never holds '{' or '}', so user input can neither choose the
// Redis Cluster slot of a key (a hash tag) nor break out of the key part.
//
// The functions are pure and safe for concurrent use.
package keypart

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Marker starts every hashed part and no kept part.
const Marker = '#'

// hashBytes is how many bytes of the SHA-256 a hashed part keeps.
const hashBytes = 16

// Encode returns s unchanged when 0 < len(s) <= max, s does not start with
// Marker and s holds no '{' or '}'; otherwise Marker followed by the hex of
// the first 16 bytes of SHA-256(s) (33 bytes in all). An empty s is hashed
// too: callers that must reject empty ids do so themselves. Encoding a kept
// part does not allocate.
func Encode(s string, max int) string {
	if keep(s, max) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	var out [1 + 2*hashBytes]byte
	out[0] = Marker
	hex.Encode(out[1:], sum[:hashBytes])
	return string(out[:])
}

// Tag returns Encode(s, max) inside braces: a Redis Cluster hash tag, so
// every key holding it lives in the one slot chosen by s.
func Tag(s string, max int) string {
	return "{" + Encode(s, max) + "}"
}

func keep(s string, max int) bool {
	return len(s) > 0 && len(s) <= max && s[0] != Marker && !strings.ContainsAny(s, "{}")
}
