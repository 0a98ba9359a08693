package memo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// envelope is what a Redis entry holds: the value and the times that decide
// its freshness. Times are Unix milliseconds. With the default JSONCodec:
//
//	{"created":1700000000000,"soft":1700000300000,"hard":1700000360000,
//	 "delta_ms":12,"value":{"name":"Ada"}}
//
// and for a cached "not found": {...,"negative":true,"error":"…","value":null}.
// The value comes last so that the JSON hit path can read the times by hand
// and decode the value's bytes straight into V (see decodeJSON); entries in
// any other field order decode too, through encoding/json.
type envelope[V any] struct {
	Created  int64  `json:"created" msgpack:"created"`   // when the load finished
	Soft     int64  `json:"soft" msgpack:"soft"`         // fresh until
	Hard     int64  `json:"hard" msgpack:"hard"`         // servable (stale) until
	Delta    int64  `json:"delta_ms" msgpack:"delta_ms"` // load duration, for XFetch
	Negative bool   `json:"negative,omitempty" msgpack:"negative,omitempty"`
	Err      string `json:"error,omitempty" msgpack:"error,omitempty"` // message of a negative result
	Value    V      `json:"value" msgpack:"value"`
}

// valid rejects envelopes no writer of this package produces, so that
// foreign or truncated data is reported as corrupt, not served.
func (e *envelope[V]) valid() error {
	if e.Created <= 0 || e.Soft < e.Created || e.Hard < e.Soft {
		return errors.New("inconsistent times")
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// jittered spreads d uniformly over [d·(1−j), d·(1+j)].
func jittered(d time.Duration, j float64) time.Duration {
	if j <= 0 {
		return d
	}
	f := 1 + j*(2*rand.Float64()-1)
	out := time.Duration(float64(d) * f)
	if out < time.Millisecond {
		out = time.Millisecond
	}
	return out
}

// newEnvelope stamps a freshly loaded value (or "not found" when negErr is
// non-nil) with its times. The hard expiry leaves room for the stale
// windows; a negative entry has none.
func (f *Func[K, V]) newEnvelope(v V, negErr error, now time.Time, delta time.Duration) *envelope[V] {
	ttl, stale := f.cfg.TTL, max(f.cfg.StaleWhileRevalidate, f.cfg.StaleIfError)
	if negErr != nil {
		ttl, stale = f.cfg.NegativeTTL, 0
	}
	soft := now.Add(jittered(ttl, f.cfg.Jitter))
	e := &envelope[V]{
		Value: v, Created: ms(now), Soft: ms(soft), Hard: ms(soft.Add(stale)),
		Delta: delta.Milliseconds(),
	}
	if e.Soft <= e.Created { // sub-millisecond TTL: keep the envelope valid
		e.Soft, e.Hard = e.Created+1, max(e.Hard, e.Created+1)
	}
	if negErr != nil {
		e.Negative, e.Err = true, negErr.Error()
	}
	return e
}

// shouldRefreshEarly is XFetch (Vattani, Chierichetti, Lowenstein, VLDB
// 2015): refresh when now − delta·beta·ln(rand) ≥ expiry. The probability
// rises as expiry nears and with slower loads.
func shouldRefreshEarly(now, soft, deltaMS int64, beta float64) bool {
	if beta <= 0 || deltaMS <= 0 {
		return false
	}
	r := 1 - rand.Float64() // (0, 1]
	gap := -float64(deltaMS) * beta * math.Log(r)
	return float64(now)+gap >= float64(soft)
}

// NotFoundError is the error Get returns for a "not found" result, fresh or
// from the negative cache. It matches ErrNotFound and Options.NotFound with
// errors.Is, and on the call that ran the function, that function's error.
type NotFoundError struct {
	Msg  string  // the wrapped function's error text
	errs []error // what errors.Is matches
}

func (e *NotFoundError) Error() string { return "memo: not found: " + e.Msg }

// Unwrap returns ErrNotFound, Options.NotFound (when set) and the original
// error (when this call ran the function).
func (e *NotFoundError) Unwrap() []error { return e.errs }

func (f *Func[K, V]) notFound(msg string, orig error) error {
	errs := []error{ErrNotFound}
	if f.cfg.NotFound != nil {
		errs = append(errs, f.cfg.NotFound)
	}
	if orig != nil {
		errs = append(errs, orig)
	}
	return &NotFoundError{Msg: msg, errs: errs}
}

// isNotFound reports whether err from the wrapped function means "not
// found" under the configured matchers.
func (f *Func[K, V]) isNotFound(err error) bool {
	if f.cfg.IsNotFound != nil {
		return f.cfg.IsNotFound(err)
	}
	return f.cfg.NotFound != nil && errors.Is(err, f.cfg.NotFound)
}

// result is what one load hands to every caller sharing it.
type result[V any] struct {
	env *envelope[V] // nil when the load failed
	err error        // load error (a NotFoundError for cached negatives)
}

// value returns what Get answers for an envelope.
func (f *Func[K, V]) value(e *envelope[V]) (V, error) {
	if e.Negative {
		var zero V
		return zero, f.notFound(e.Err, nil)
	}
	return e.Value, nil
}

func corrupt(key string, err error) error {
	return fmt.Errorf("memo: entry %q: %w: %w", key, ErrCorrupt, err)
}
