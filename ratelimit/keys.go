package ratelimit

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/keypart"
)

// maxIDBytes is the longest id placed in a key as is; longer ids, ids
// holding braces and ids starting with '#' are replaced by '#' and a
// SHA-256 digest (internal/keypart), so a client cannot inflate keys or
// break the {id} hash tag.
const maxIDBytes = 128

// hashTag returns "{id}" for key, the part of every Redis key that pins all
// of one client's counters to one cluster slot.
func hashTag(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	return keypart.Tag(key, maxIDBytes), nil
}

// windowKey is namespace:kind:{id}:part...:window.
func windowKey(namespace, kind, tag string, window int64, parts ...string) string {
	all := make([]string, 0, len(parts)+3)
	all = append(all, kind, tag)
	all = append(all, parts...)
	all = append(all, strconv.FormatInt(window, 10))
	return core.MakeKey(namespace, all...)
}

// durationMS formats d in whole milliseconds, the window length in keys: two
// limiters share counters only when namespace, policy and window all agree.
func durationMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
