package viewcount

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/keypart"
)

// keys builds every Redis key of one Counter.
type keys struct {
	ns string
}

// maxKeptItem is the longest item id kept as it is inside its keys' hash
// tag.
const maxKeptItem = 128

// itemTag is the hash tag of an item's keys: the id itself when it is at
// most maxKeptItem bytes of [A-Za-z0-9._/-] only, else '#' and 32 hex
// digits of its SHA-256 (internal/keypart's hashed form). A kept id never
// starts with '#', so the mapping is injective, and no tag holds a brace, a
// glob metacharacter, a space or a ':'.
func itemTag(item string) string {
	keep := maxKeptItem
	for i := 0; i < len(item); i++ {
		if !safeByte(item[i]) {
			keep = 0 // hashed
			break
		}
	}
	return keypart.Tag(item, keep)
}

func safeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'
}

func checkItem(item string) error {
	switch {
	case item == "":
		return fmt.Errorf("%w: empty", ErrInvalidItem)
	case len(item) > MaxItemBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidItem, len(item), MaxItemBytes)
	case !utf8.ValidString(item):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidItem)
	}
	return nil
}

func checkVisitor(visitor string) error {
	switch {
	case visitor == "":
		return fmt.Errorf("%w: empty", ErrInvalidVisitor)
	case len(visitor) > MaxVisitorBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidVisitor, len(visitor), MaxVisitorBytes)
	}
	return nil
}

// itemKeys are the per-item keys, all in the slot of the tag {<item part>}.
type itemKeys struct {
	tag string // "<ns>:{<item part>}"
}

func (k keys) item(item string) itemKeys {
	return itemKeys{tag: core.MakeKey(k.ns, itemTag(item))}
}

func (k itemKeys) total() string              { return k.tag + ":total" }
func (k itemKeys) bots() string               { return k.tag + ":bots" }
func (k itemKeys) unique() string             { return k.tag + ":uniq" }
func (k itemKeys) day(day string) string      { return k.tag + ":day:" + day }
func (k itemKeys) seen(visitor string) string { return k.tag + ":seen:" + visitor }
func (k itemKeys) marker(batch string) string { return k.tag + ":flush:" + batch }

// Ranking keys share the tag {top} so a ranking flush is one script.
func (k keys) rank(period time.Duration, bucket int64) string {
	return core.MakeKey(k.ns, "{top}", strconv.FormatInt(int64(period/time.Second), 10), strconv.FormatInt(bucket, 10))
}

func (k keys) rankSeen(item, visitor string) string {
	h := sha256.Sum256([]byte(item))
	return core.MakeKey(k.ns, "{top}", "seen", hex.EncodeToString(h[:8]), visitor)
}

func (k keys) rankMarker(batch string) string { return core.MakeKey(k.ns, "{top}", "flush", batch) }

// digest returns the stored form of a visitor id: the first 128 bits of
// HMAC-SHA256(secret, visitor), hex encoded.
func digest(secret []byte, visitor string) [16]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(visitor))
	var d [16]byte
	copy(d[:], m.Sum(nil))
	return d
}

// buckets are the time buckets a view falls in.
type buckets struct {
	day  string            // "2006-01-02" in Options.Location
	rank [maxPeriods]int64 // per period: floor(unix seconds / period)
}

func (c *Counter) bucketsAt(t time.Time) buckets {
	b := buckets{day: t.In(c.opts.Location).Format(time.DateOnly)}
	for i, p := range c.opts.Periods {
		b.rank[i] = floorDiv(t.Unix(), int64(p/time.Second))
	}
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// rankTTL keeps a ranking bucket readable for one period after it ends.
func rankTTL(p time.Duration) int64 { return int64(2 * p / time.Second) }
