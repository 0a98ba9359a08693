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

// errEmptyKey is the error of a decision on the empty key.
var errEmptyKey = fmt.Errorf("%w: empty key", ErrInvalidKey)

// hashTag returns "{id}" for key, the part of every Redis key that pins all
// of one client's counters to one cluster slot.
func hashTag(key string) (string, error) {
	if key == "" {
		return "", errEmptyKey
	}
	return keypart.Tag(key, maxIDBytes), nil
}

// keyShape is the constant part of one limiter's keys, built once:
// namespace:kind:{id}:part... and, for a windowed counter, :window. A key is
// prefix + {id} + suffix (+ the window number), one allocation.
type keyShape struct{ prefix, suffix string }

// newKeyShape returns the shape namespace:kind:{id}:part...; windowed adds
// the separator before the window number.
func newKeyShape(namespace, kind string, windowed bool, parts ...string) keyShape {
	suffix := core.MakeKey("", parts...)
	if windowed {
		suffix += ":"
	}
	return keyShape{prefix: core.MakeKey(namespace, kind) + ":", suffix: suffix}
}

// keyOf returns the key of client id (in window number w when windowed)
// and its {id} hash tag (see hashTag), a part of the key: one allocation
// for both.
func (k keyShape) keyOf(id string, windowed bool, w int64) (rkey, tag string, err error) {
	var keys [1]string
	tag, err = keysOf(id, []keyShape{k}, windowed, []int64{w}, keys[:])
	return keys[0], tag, err
}

// keysOf sets keys[i] to the key of client id in shapes[i] (in window
// number ws[i] when windowed) and returns their {id} hash tag (see
// hashTag): all of them parts of one string, one allocation.
func keysOf(id string, shapes []keyShape, windowed bool, ws []int64, keys []string) (tag string, err error) {
	if id == "" {
		return "", errEmptyKey
	}
	enc := keypart.Encode(id, maxIDBytes) // a kept id: no allocation
	var buf [256]byte
	b := buf[:0]
	var ends [8]int
	end := ends[:0]
	for i, k := range shapes {
		b = append(b, k.prefix...)
		b = append(b, '{')
		b = append(b, enc...)
		b = append(b, '}')
		b = append(b, k.suffix...)
		if windowed {
			b = strconv.AppendInt(b, ws[i], 10)
		}
		end = append(end, len(b))
	}
	all, start := string(b), 0
	for i := range keys {
		keys[i], start = all[start:end[i]], end[i]
	}
	first := len(shapes[0].prefix)
	return all[first : first+len(enc)+2], nil
}

// durationMS formats d in whole milliseconds, the window length in keys: two
// limiters share counters only when namespace, policy and window all agree.
func durationMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
