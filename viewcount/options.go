package viewcount

import (
	"errors"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/keypart"
	"github.com/rediskit/rediskit/internal/report"
)

// Defaults applied for zero Options fields.
const (
	DefaultNamespace     = "viewcount"
	defaultDedupWindow   = 30 * time.Minute
	defaultRetention     = 90 * 24 * time.Hour
	defaultFlushInterval = time.Second
	defaultMaxPending    = 1_000_000
	defaultMarkerTTL     = 10 * time.Minute
	MaxItemBytes         = 256  // longest item id Record accepts
	MaxVisitorBytes      = 1024 // longest visitor id Record accepts
	minSecretBytes       = 16
	maxPeriods           = 8
	defaultTimeout       = time.Second
)

// DefaultPeriods are the ranking periods kept when Options.Periods is nil:
// the current hour, day and week (see Top).
var DefaultPeriods = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// Mode selects how Record reaches Redis.
type Mode int

const (
	// Direct sends every view to Redis in one round trip (see the package doc).
	Direct Mode = iota
	// Buffered aggregates views in process and flushes them every FlushInterval.
	Buffered
)

func (m Mode) String() string {
	switch m {
	case Direct:
		return "direct"
	case Buffered:
		return "buffered"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// FlushInfo describes one flush attempt of a buffered Counter.
type FlushInfo struct {
	Views    int64         // views in the batches attempted
	Commands int           // Redis commands sent
	Retry    bool          // at least one batch had failed before
	Duration time.Duration // wall time of the attempt
	Err      error         // nil on success; the batches are kept and retried
}

// Options configures a Counter. The zero value is valid except for Secret.
type Options struct {
	// Secret keys the HMAC-SHA256 that turns every visitor id into the
	// digest stored in Redis; raw visitor ids (IPs, cookies, user ids) are
	// never stored. Required, at least 16 bytes; keep it stable across
	// processes and restarts or unique counts split.
	Secret []byte

	// Namespace is the first part of every key. Default "viewcount". It may
	// not contain '{', '}', glob metacharacters or whitespace.
	Namespace string

	// Mode is Direct (default) or Buffered.
	Mode Mode

	// DedupWindow is how long repeat views of an item by one visitor count
	// once. Default 30 min; negative disables deduplication (every view
	// counts). Rounded down to milliseconds.
	DedupWindow time.Duration

	// Retention is how long day buckets live. Default 90 days; at least 24 h.
	Retention time.Duration

	// Periods are the ranking periods Top accepts, each at least one second
	// and a whole number of seconds. Default DefaultPeriods; at most 8.
	Periods []time.Duration

	// Location is the time zone days are counted in. Default UTC.
	Location *time.Location

	// Now is the clock used to pick day and ranking buckets. Default
	// time.Now. Tests inject a fake clock here.
	Now func() time.Time

	// FlushInterval is how often a buffered Counter flushes. Default 1 s.
	FlushInterval time.Duration

	// MaxPending bounds the views a buffered Counter holds unflushed,
	// including failed batches awaiting a retry. Views past it are dropped,
	// reported to OnDrop, and Record returns ErrBufferFull. Default 1,000,000.
	MaxPending int

	// MarkerTTL is how long a flush marker lives: a batch retried later than
	// this after it was applied, with its reply lost, would be applied
	// twice. Default 10 min.
	MarkerTTL time.Duration

	// WaitReplicas makes a buffered flush durable across a failover: each
	// flush pipeline ends with WAIT WaitReplicas WaitTimeout on the same
	// connection, and a batch leaves the buffer only once that many
	// replicas acknowledged every write of it (its counts, uniques,
	// rankings and flush markers). A replica promoted after the master dies
	// then holds every acknowledged view. When fewer acknowledge in time
	// (no replica, a lagging one) the flush fails with ErrNotReplicated:
	// the views are kept (counted in Redis already, but not yet known to be
	// safe) and the next flush sends the batch again, which its markers make
	// a no-op that only WAITs again, so nothing is counted twice. WAIT
	// never rolls a write back: a master that dies before replicating a
	// batch loses it, and the retry, sent to the promoted replica, applies
	// it there. The cost is one more command per flush pipeline, and the
	// flush waits for the replicas' acknowledgement (about a network round
	// trip to them; up to WaitTimeout when they lag); Record is not slowed.
	// On a cluster each master a flush writes to gets its own pipeline
	// ending with WAIT, and must have WaitReplicas replicas acknowledging.
	// Direct mode ignores it. Default 0: a flush is acknowledged by the
	// master alone.
	WaitReplicas int

	// WaitTimeout bounds WaitReplicas' WAIT, in milliseconds. Default 1 s.
	WaitTimeout time.Duration

	// Timeout bounds one Redis call: a Direct Record or RecordBot, Counts,
	// Top. Default 1 s. The call also ends with its ctx and, when ctx
	// carries a request budget (core.Client.WithBudget; the Tracker attaches
	// it), with that budget. A buffered flush is bounded by its own ctx
	// (the flush loop's: the longer of FlushInterval and 5 s).
	Timeout time.Duration

	// OnError receives every failure the Counter and its Trackers handle by
	// themselves: a Tracker's failed Record or RecordBot (a Redis error, a
	// timeout, a full buffer) and failed item or visitor func (ctx then
	// carries the request: core.RequestFromContext), a failed flush (its
	// batch is kept and retried), views a flush or Close gave up on. Errors
	// that Record, RecordBot, Counts, Top, Flush and Close return to their
	// caller are not reported again. Default: a Warn record through
	// slog.Default(), at most one per second, with a count of those
	// suppressed. Stats().Errors counts the calls.
	OnError core.ErrorHandler

	// OnFlush, if set, is called after every flush attempt of a buffered
	// Counter, from the flushing goroutine, with what it sent (failures
	// also go to OnError).
	OnFlush func(FlushInfo)

	// OnDrop, if set, is called with the number of views a buffered Counter
	// drops and why: a full buffer (Record also returns ErrBufferFull), or a
	// flush or Close giving up (also reported to OnError).
	OnDrop func(views int64, err error)
}

// defaultOnError is the OnError of every Counter that sets none: one
// rate-limited report for the package, not one per Counter.
var defaultOnError core.ErrorHandler = report.Default("viewcount")

// Sentinel errors; match them with errors.Is.
var (
	ErrInvalidOptions = errors.New("viewcount: invalid options")
	ErrInvalidItem    = errors.New("viewcount: invalid item")
	ErrInvalidVisitor = errors.New("viewcount: invalid visitor")
	ErrUnknownPeriod  = errors.New("viewcount: period not configured")
	ErrBufferFull     = errors.New("viewcount: buffer full, view dropped")
	ErrClosed         = errors.New("viewcount: counter is closed")
	// ErrNotReplicated reports a durable flush (Options.WaitReplicas) that
	// fewer replicas than asked acknowledged in time; its views are kept
	// and sent again (at most once counted) by the next flush.
	ErrNotReplicated = errors.New("viewcount: flush not acknowledged by enough replicas")
)

// withDefaults returns o with its zero fields set to the defaults, and an
// error wrapping ErrInvalidOptions if the result is unusable.
func (o Options) withDefaults() (Options, error) {
	o.fill()
	return o, o.validate()
}

// fill sets zero fields to their defaults and copies the slices a caller
// could change later.
func (o *Options) fill() {
	o.Secret = append([]byte(nil), o.Secret...)
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	switch {
	case o.DedupWindow == 0:
		o.DedupWindow = defaultDedupWindow
	case o.DedupWindow < 0:
		o.DedupWindow = 0 // disabled
	}
	if o.Retention == 0 {
		o.Retention = defaultRetention
	}
	if o.Periods == nil {
		o.Periods = DefaultPeriods
	}
	o.Periods = append([]time.Duration(nil), o.Periods...)
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = defaultFlushInterval
	}
	if o.MaxPending == 0 {
		o.MaxPending = defaultMaxPending
	}
	if o.MarkerTTL == 0 {
		o.MarkerTTL = defaultMarkerTTL
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = defaultTimeout
	}
	if o.OnError == nil {
		o.OnError = defaultOnError
	}
}

// validate checks filled options.
func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	nsErr := keypart.CheckNamespace(o.Namespace)
	switch {
	case len(o.Secret) < minSecretBytes:
		return bad("Secret must be at least %d bytes, got %d", minSecretBytes, len(o.Secret))
	case nsErr != nil:
		return bad("%w", nsErr)
	case o.Mode != Direct && o.Mode != Buffered:
		return bad("unknown Mode %v", o.Mode)
	case o.DedupWindow > 0 && o.DedupWindow < time.Millisecond:
		return bad("DedupWindow %v is below 1ms", o.DedupWindow)
	case o.Retention < 24*time.Hour:
		return bad("Retention %v is below 24h", o.Retention)
	case len(o.Periods) > maxPeriods:
		return bad("%d Periods, at most %d", len(o.Periods), maxPeriods)
	case o.FlushInterval < time.Millisecond:
		return bad("FlushInterval %v is below 1ms", o.FlushInterval)
	case o.MaxPending < 0:
		return bad("MaxPending %d is negative", o.MaxPending)
	case o.MarkerTTL < time.Second:
		return bad("MarkerTTL %v is below 1s", o.MarkerTTL)
	case o.Timeout < 0:
		return bad("negative Timeout %v", o.Timeout)
	case o.WaitReplicas < 0:
		return bad("negative WaitReplicas %d", o.WaitReplicas)
	case o.WaitTimeout < time.Millisecond:
		return bad("WaitTimeout %v is below 1ms", o.WaitTimeout)
	}
	for i, p := range o.Periods {
		if p < time.Second || p%time.Second != 0 {
			return bad("period %v: want whole seconds, at least 1s", p)
		}
		for _, q := range o.Periods[:i] {
			if p == q {
				return bad("period %v listed twice", p)
			}
		}
	}
	return nil
}
