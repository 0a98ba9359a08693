package memo

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/keypart"
	"github.com/rediskit/rediskit/internal/report"
)

// Defaults applied by Wrap to zero Options fields.
const (
	defaultTTL               = 5 * time.Minute
	defaultJitter            = 0.10
	defaultBeta              = 1.0
	defaultLoadTimeout       = 10 * time.Second
	DefaultTimeout           = 250 * time.Millisecond
	defaultGenerationRefresh = time.Second
	DefaultNamespace         = "memo"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound marks a "not found" result of the wrapped function, fresh
	// or served from the negative cache (see Options.NotFound).
	ErrNotFound = errors.New("memo: not found")
	// ErrUnavailable marks a Redis failure returned to the caller: only with
	// Options.FailClosed, or from Forget and ForgetAll.
	ErrUnavailable = errors.New("memo: redis unavailable")
	// ErrCorrupt marks a stored entry that could not be decoded; it is
	// reported to OnError, treated as a miss and overwritten.
	ErrCorrupt = errors.New("memo: corrupt entry")
	// ErrLoadTimeout marks a load that failed after running for
	// Options.LoadTimeout.
	ErrLoadTimeout = errors.New("memo: load timed out")
	// ErrInvalidOptions reports a configuration Wrap rejects.
	ErrInvalidOptions = errors.New("memo: invalid options")
)

// Codec turns an entry envelope into bytes and back. JSONCodec is the
// default; any Codec must round-trip the exported fields of the envelope and
// of V.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json. Entries stay readable with
// redis-cli.
type JSONCodec struct{}

// Marshal calls json.Marshal.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal calls json.Unmarshal.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Options configures a Func. The zero value is valid: every field documents
// its default.
type Options struct {
	// Namespace is the first part of every key; default "memo". It may hold
	// letters, digits, "_.-/" and ":". Keys are "<Namespace>:<name>:...",
	// see the package doc.
	Namespace string

	// TTL is how long a loaded value is fresh; default 5 minutes.
	TTL time.Duration
	// Jitter spreads each entry's TTL uniformly over ±Jitter·TTL so that
	// entries loaded together do not expire together; default 0.10, a
	// negative value turns it off, values above 0.5 are rejected.
	Jitter float64

	// NotFound is the error (matched with errors.Is) by which the wrapped
	// function says "no such value". Such results are cached for
	// NegativeTTL; other errors are never cached.
	NotFound error
	// IsNotFound, when set, decides instead of NotFound which errors mean
	// "not found".
	IsNotFound func(error) bool
	// NegativeTTL is how long a "not found" result stays cached; default
	// TTL/10. Negative caching is on only when NotFound or IsNotFound is set.
	NegativeTTL time.Duration

	// Beta is the XFetch early-refresh factor: a fresh hit triggers one
	// background refresh when now + delta·Beta·(−ln rand) ≥ expiry, delta
	// being the last load's duration. Default 1; negative turns it off;
	// larger values refresh earlier.
	Beta float64
	// StaleWhileRevalidate is how long after expiry a stale value is still
	// served while one background refresh runs; default 0 (off).
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long after expiry a stale value is served when
	// the function fails; default 0 (off).
	StaleIfError time.Duration

	// LoadTimeout bounds one call of the wrapped function, which runs
	// detached from any single caller's context; default 10 s.
	LoadTimeout time.Duration

	// Lease turns on the cross-process lease: on a miss, one process (per
	// key) calls the function while the others poll Redis for its result
	// for at most LeaseWait, then load themselves. Off by default (then
	// only callers within one process share a load).
	Lease bool
	// LeaseTTL is how long a lease lives if its holder crashes; default
	// LoadTimeout plus one second.
	LeaseTTL time.Duration
	// LeaseWait bounds how long a process waits for another's lease;
	// default LeaseTTL.
	LeaseWait time.Duration

	// Timeout bounds each Redis round trip; default 250 ms. Calls made
	// with a ctx carrying a request budget (core.Client.WithBudget) also
	// end with it.
	Timeout time.Duration
	// FailClosed returns Redis failures to the caller (wrapping
	// ErrUnavailable) instead of calling the function directly. Default
	// false: fail open.
	FailClosed bool
	// OnError receives every Redis error, corrupt entry and background
	// refresh failure, with the ctx of the Get, Forget or ForgetAll it
	// happened in (a background refresh keeps its values). It must be safe
	// for concurrent use and fast. Default: a Warn record through
	// slog.Default(), at most one per second for all memo Funcs (see
	// core.ErrorHandler). Every failure is also counted in Stats.
	OnError core.ErrorHandler
	// Codec encodes entries; default JSONCodec.
	Codec Codec
	// GenerationRefresh is how long a process trusts its cached copy of
	// the generation number ForgetAll bumps before one Get rereads it; a
	// ForgetAll from another process takes effect here within about this
	// long. Default 1 s.
	GenerationRefresh time.Duration

	// Now is the clock that dates entries and decides their freshness;
	// default time.Now. It is meant for tests, to let entries expire without
	// sleeping; Redis expiry and timeouts keep the real clock.
	Now func() time.Time
}

// defaultReport is the OnError of every Func that sets none: one rate limit
// for the whole feature.
var defaultReport = report.Default("memo")

// config is Options with defaults applied.
type config struct {
	Options
	negative  bool
	json      bool // Codec is JSONCodec: hits take decodeJSON
	realClock bool // Now is time.Now (not set by the caller)
}

func (o Options) withDefaults() (config, error) {
	c := config{Options: o}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.TTL == 0 {
		c.TTL = defaultTTL
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = defaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	switch {
	case c.Beta == 0:
		c.Beta = defaultBeta
	case c.Beta < 0:
		c.Beta = 0
	}
	c.negative = c.NotFound != nil || c.IsNotFound != nil
	if c.NegativeTTL == 0 {
		c.NegativeTTL = c.TTL / 10
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = defaultLoadTimeout
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = c.LoadTimeout + time.Second
	}
	if c.LeaseWait == 0 {
		c.LeaseWait = c.LeaseTTL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.OnError == nil {
		c.OnError = defaultReport
	}
	if c.GenerationRefresh == 0 {
		c.GenerationRefresh = defaultGenerationRefresh
	}
	if c.Codec == nil {
		c.Codec = JSONCodec{}
	}
	switch c.Codec.(type) {
	case JSONCodec, *JSONCodec:
		c.json = true
	}
	if c.Now == nil {
		c.Now, c.realClock = time.Now, true
	}
	return c, c.validate()
}

func (c config) validate() error {
	if err := checkName("Namespace", c.Namespace, true); err != nil {
		return err
	}
	if err := keypart.CheckNamespace(c.Namespace); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"TTL", c.TTL}, {"NegativeTTL", c.NegativeTTL}, {"StaleWhileRevalidate", c.StaleWhileRevalidate},
		{"StaleIfError", c.StaleIfError}, {"LoadTimeout", c.LoadTimeout}, {"LeaseTTL", c.LeaseTTL},
		{"LeaseWait", c.LeaseWait}, {"Timeout", c.Timeout}, {"GenerationRefresh", c.GenerationRefresh},
	}
	for _, d := range durations {
		if d.d < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrInvalidOptions, d.name, d.d)
		}
	}
	if c.TTL < time.Millisecond || (c.negative && c.NegativeTTL < time.Millisecond) {
		return fmt.Errorf("%w: TTL and NegativeTTL must be at least 1ms", ErrInvalidOptions)
	}
	if c.Jitter > 0.5 {
		return fmt.Errorf("%w: Jitter %v above 0.5", ErrInvalidOptions, c.Jitter)
	}
	return nil
}

// checkName accepts names made of [A-Za-z0-9_.-/] (and ":" in a namespace):
// a ":" in a name would let one name's keys collide with another's, and
// braces would be cluster hash tags.
func checkName(what, s string, colon bool) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidOptions, what)
	}
	if len(s) > 128 {
		return fmt.Errorf("%w: %s longer than 128 bytes", ErrInvalidOptions, what)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '-' || c == '/' || colon && c == ':') {
			return fmt.Errorf("%w: %s %q: only letters, digits and _ . - / are allowed", ErrInvalidOptions, what, s)
		}
	}
	return nil
}
