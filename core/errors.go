package core

import (
	"errors"
	"fmt"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound reports a key that does not exist (TTL of a missing key).
	ErrNotFound = errors.New("core: key not found")
	// ErrInvalidKey reports an empty or oversized key, or an empty service name.
	ErrInvalidKey = errors.New("core: invalid key")
	// ErrInvalidTTL reports a negative TTL or window.
	ErrInvalidTTL = errors.New("core: invalid ttl")
	// ErrInvalidArgument reports any other argument the call cannot take
	// (nil destination, non-positive limit, ...).
	ErrInvalidArgument = errors.New("core: invalid argument")
	// ErrEncode reports a value the encoder cannot take (a channel, a func, NaN).
	ErrEncode = errors.New("core: cannot encode value")
	// ErrDecode reports a stored value that cannot be decoded into the target.
	// The concrete error is a *DecodeError naming the key.
	ErrDecode = errors.New("core: cannot decode value")
	// ErrValueTooLarge reports a value above Config.MaxValueBytes.
	ErrValueTooLarge = errors.New("core: value too large")
	// ErrClosed reports a call on a closed Client.
	ErrClosed = errors.New("core: client is closed")
	// ErrNilContext reports a nil context.Context.
	ErrNilContext = errors.New("core: nil context")
	// ErrNoAddress reports a production configuration with no Redis address.
	ErrNoAddress = errors.New("core: no redis address configured")
)

// DecodeError is returned when the bytes stored under Key cannot be decoded
// into the requested Go type. It matches ErrDecode with errors.Is.
type DecodeError struct {
	Key    string // the Redis key (and, for hashes, "key#field")
	Target string // the Go type it was decoded into
	Err    error  // the underlying decoding error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("core: cannot decode value of key %q into %s: %v", e.Key, e.Target, e.Err)
}

// Unwrap returns both ErrDecode and the underlying error.
func (e *DecodeError) Unwrap() []error { return []error{ErrDecode, e.Err} }
