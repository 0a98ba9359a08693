package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rediskit/rediskit/core"
)

// maxIDBytes is the longest id placed in a key as is; longer ids, and ids
// holding braces, are replaced by their SHA-256 (hex), so a client cannot
// inflate keys or break the {id} hash tag.
const maxIDBytes = 128

// hashTag returns "{id}" for key, the part of every Redis key that pins all
// of one client's counters to one cluster slot.
func hashTag(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > maxIDBytes || strings.ContainsAny(key, "{}") {
		sum := sha256.Sum256([]byte(key))
		key = "h-" + hex.EncodeToString(sum[:16])
	}
	return "{" + key + "}", nil
}

// windowKey is prefix:kind:{id}:part...:window.
func windowKey(prefix, kind, tag string, window int64, parts ...string) string {
	all := make([]string, 0, len(parts)+3)
	all = append(all, kind, tag)
	all = append(all, parts...)
	all = append(all, strconv.FormatInt(window, 10))
	return core.MakeKey(prefix, all...)
}

// durationMS formats d in whole milliseconds, the window length in keys: two
// limiters share counters only when prefix, policy and window all agree.
func durationMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
