package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rediskit/rediskit/clientip"
)

// KeyFunc returns the rate-limit key of a request. An error (wrapping
// ErrNoKey when the request cannot be identified) makes the middleware
// answer 403 through its error handler.
type KeyFunc func(*http.Request) (string, error)

// KeyByIP keys requests by client IP as resolved by r: the TCP peer, or with
// trusted proxies configured, the first untrusted address of the forwarding
// header read from the right; IPv6 clients share one key per /64. A nil r
// trusts no proxy and uses RemoteAddr only. Keys look like "ip:192.0.2.1".
func KeyByIP(r *clientip.Resolver) KeyFunc {
	return func(req *http.Request) (string, error) {
		k, err := r.Key(req)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoKey, err)
		}
		return "ip:" + k, nil
	}
}

// KeyByHeader keys requests by the value of a header, such as an API key.
// The value is a secret: the key holds only a digest of the header name and
// value, "hdr:" + the first 32 hex digits of SHA-256(name + "\x00" + value),
// so the raw value never reaches Redis, Decision.Key, handlers or error
// messages. A missing or empty header is an ErrNoKey error. Only use it for
// a header the client cannot choose freely (a key your auth layer checked),
// or every value is a fresh bucket.
func KeyByHeader(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(req *http.Request) (string, error) {
		v := strings.TrimSpace(req.Header.Get(name))
		if v == "" {
			return "", fmt.Errorf("%w: no %s header", ErrNoKey, name)
		}
		sum := sha256.Sum256([]byte(name + "\x00" + v))
		return "hdr:" + hex.EncodeToString(sum[:16]), nil
	}
}

// KeyByUser keys requests by the authenticated user that user returns:
// "user:<id>". An empty id is an ErrNoKey error.
func KeyByUser(user func(*http.Request) (string, error)) KeyFunc {
	return func(req *http.Request) (string, error) {
		id, err := user(req)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoKey, err)
		}
		if id == "" {
			return "", fmt.Errorf("%w: no user", ErrNoKey)
		}
		return "user:" + id, nil
	}
}

// KeyByRoute keys requests by route: "route:<route>". route returns the
// route pattern (never the raw path, which a client could vary without
// bound); nil uses Request.Pattern, set by http.ServeMux. An empty route is
// an ErrNoKey error.
func KeyByRoute(route func(*http.Request) string) KeyFunc {
	return func(req *http.Request) (string, error) {
		p := req.Pattern
		if route != nil {
			p = route(req)
		}
		if p == "" {
			return "", fmt.Errorf("%w: no route pattern", ErrNoKey)
		}
		return "route:" + p, nil
	}
}

// Combine keys requests by all of fns joined with "|", for example client
// IP and route: a per-client limit on each route. The first error wins.
func Combine(fns ...KeyFunc) KeyFunc {
	return func(req *http.Request) (string, error) {
		parts := make([]string, len(fns))
		for i, f := range fns {
			k, err := f(req)
			if err != nil {
				return "", err
			}
			parts[i] = k
		}
		return strings.Join(parts, "|"), nil
	}
}

// HTTPOptions is the framework-neutral part of the rate-limit middleware;
// the adapters in adapters/nethttp and adapters/echo embed it.
type HTTPOptions struct {
	// Limiter decides requests. Required unless LimiterFor always returns
	// one.
	Limiter Limiter
	// LimiterFor picks a limiter per request (per-route limits); a nil
	// result falls back to Limiter.
	LimiterFor func(*http.Request) Limiter
	// Cost is the number of units a request consumes (AllowN). Default 1.
	// A cost below 1 lets the request through without counting it (a free
	// request). A cost above the limit can never fit: the request is denied
	// (429, Retry-After the time until the window resets) without counting
	// anything; it is not a limiter failure, so neither FailClosed nor
	// OnError applies, and Verdict.Err wraps ErrLimited and ErrInvalidCost.
	Cost func(*http.Request) int
	// FailClosed answers 503 Service Unavailable (never 429) when the
	// limiter fails (Redis down, slow beyond its Timeout). Default false:
	// fail open, the request proceeds. Either way OnError is told.
	FailClosed bool
	// OnError is called with every limiter failure. Default: LogError, a
	// Warn record through slog.Default() per failure; set a func that
	// counts or samples instead to keep an outage from logging once per
	// request.
	OnError func(*http.Request, error)
	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (seconds until reset) to the RateLimit headers.
	LegacyHeaders bool
	// ProblemJSON writes error bodies as application/problem+json (RFC
	// 9457) instead of application/json.
	ProblemJSON bool
}

// Validate reports a configuration the middleware cannot serve with.
func (o *HTTPOptions) Validate() error {
	if o.Limiter == nil && o.LimiterFor == nil {
		return fmt.Errorf("%w: HTTPOptions needs a Limiter or LimiterFor", ErrInvalidOptions)
	}
	return nil
}

// Verdict is the outcome of Check for one request.
type Verdict struct {
	// Status is 0 when the request proceeds (allowed, not counted, or
	// failed open), else 429 or 503.
	Status int
	// Result is the limiter's answer; valid when Decided.
	Result  Result
	Decided bool
	// Err is the limiter failure, if any, or for a request whose cost
	// exceeds the limit (Status 429) an error wrapping ErrLimited and
	// ErrInvalidCost.
	Err error
}

// Check decides req under key. It never panics and never returns 429 for a
// failure: a failure yields Status 0 (fail open) or 503 (fail closed). A
// cost above the limit yields 429 (see Cost).
func (o *HTTPOptions) Check(req *http.Request, key string) Verdict {
	lim := o.Limiter
	if o.LimiterFor != nil {
		if l := o.LimiterFor(req); l != nil {
			lim = l
		}
	}
	n := 1
	if o.Cost != nil {
		n = o.Cost(req)
	}
	if n < 1 || lim == nil {
		return Verdict{}
	}
	res, err := lim.AllowN(req.Context(), key, n)
	if errors.Is(err, ErrInvalidCost) {
		return tooCostly(res, err)
	}
	if err != nil {
		if o.OnError != nil {
			o.OnError(req, err)
		} else {
			LogError(req, err)
		}
		if o.FailClosed {
			return Verdict{Status: http.StatusServiceUnavailable, Err: err}
		}
		return Verdict{Err: err}
	}
	v := Verdict{Result: res, Decided: true}
	if !res.Allowed {
		v.Status = http.StatusTooManyRequests
	}
	return v
}

// LogError is the default HTTPOptions.OnError: it logs err through
// slog.Default() at Warn level as "ratelimit: limiter failed", with the
// request's method and route pattern (never its path, query or headers,
// which may hold secrets). err names the Redis key, where an id is the
// KeyFunc's key (KeyByHeader's is a digest).
func LogError(req *http.Request, err error) {
	attrs := []slog.Attr{slog.String("method", req.Method), slog.Any("err", err)}
	if req.Pattern != "" {
		attrs = append(attrs, slog.String("pattern", req.Pattern))
	}
	slog.LogAttrs(req.Context(), slog.LevelWarn, "ratelimit: limiter failed", attrs...)
}

// tooCostly is the denial of a request whose cost can never fit: res
// describes the policy, and the client may retry (with a smaller cost) when
// the window resets.
func tooCostly(res Result, err error) Verdict {
	res.Allowed, res.Remaining, res.Local = false, 0, false
	res.RetryAfter = res.ResetAfter
	if res.RetryAfter <= 0 {
		res.RetryAfter = res.Window
	}
	return Verdict{Status: http.StatusTooManyRequests, Result: res, Decided: true,
		Err: fmt.Errorf("%w: %w", ErrLimited, err)}
}

// WriteHeaders sets the rate-limit headers of v on h (nothing when the
// limiter did not decide). See SetHeaders.
func (o *HTTPOptions) WriteHeaders(h http.Header, v Verdict) {
	if v.Decided {
		SetHeaders(h, v.Result, o.LegacyHeaders)
	}
}

// WriteError writes the JSON (or problem+json) response for a non-zero
// status: 429 with Retry-After, 503, or 403 for a key error.
func (o *HTTPOptions) WriteError(w http.ResponseWriter, status int, v Verdict) {
	body := ErrorBody{Status: status, Problem: o.ProblemJSON}
	if status == http.StatusTooManyRequests && v.Decided {
		body.RetryAfter = RetryAfterSeconds(v.Result)
	}
	w.Header().Set("Content-Type", body.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := body.MarshalJSON()
	_, _ = w.Write(append(b, '\n'))
}

// RetryAfterSeconds is the Retry-After of a denied res in whole seconds:
// RetryAfter rounded up, at least 1, the value SetHeaders writes.
func RetryAfterSeconds(res Result) int { return int(min(ceilSeconds(res.RetryAfter), maxSFInt)) }

// ErrorStatus is the status the adapters answer for a request they cannot
// decide: 403 Forbidden when the client cannot be identified (err wraps
// ErrNoKey), else 503 Service Unavailable (the limiter failed closed).
func ErrorStatus(err error) int {
	if IsKeyError(err) {
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// IsKeyError reports whether err came from a KeyFunc that could not
// identify the client.
func IsKeyError(err error) bool { return errors.Is(err, ErrNoKey) }
