package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/internal/rlhttp"
)

// KeyFunc returns the rate-limit key of a request. An error (wrapping
// ErrNoKey when the request cannot be identified; a Guard wraps any other
// error with it) makes a Guard answer 403.
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

// GuardOptions configures NewGuard.
type GuardOptions struct {
	// Limiter decides requests. Required unless LimiterFor always returns
	// one.
	Limiter Limiter
	// LimiterFor picks a limiter per request (per-route limits); a nil
	// result falls back to Limiter.
	LimiterFor func(*http.Request) Limiter
	// Key identifies the client. Default: KeyByIP(nil), the TCP peer
	// address (IPv6 by /64), ignoring forwarding headers; pass a KeyByIP
	// with a clientip.Resolver that lists your proxies to use them. An
	// error is answered with 403 (ErrorHandler).
	Key KeyFunc
	// Cost is the number of units a request consumes (AllowN). Default 1.
	// A cost below 1 lets the request through without counting it (a free
	// request). A cost above the limit can never fit: the request is denied
	// (429, Retry-After the time until the window resets) without counting
	// anything; it is not a limiter failure, so FailClosed does not apply,
	// and the DenyHandler's error wraps ErrLimited and ErrInvalidCost.
	Cost func(*http.Request) int
	// FailClosed answers 503 Service Unavailable (never 429) when the
	// limiter fails (Redis down, slow beyond its Timeout). Default false:
	// fail open, the request proceeds. Either way the limiter reports the
	// failure to its OnError (a RedisLimiter does; a Limiter of your own
	// reports its failures itself). A RedisLimiter with
	// Options.LocalFallback does not fail while its fallback decides: the
	// third policy, a per-process limit in memory during an outage.
	FailClosed bool
	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (seconds until reset) to the RateLimit headers.
	LegacyHeaders bool
	// ProblemJSON writes the error bodies as application/problem+json (RFC
	// 9457) instead of application/json.
	ProblemJSON bool
	// DenyHandler answers a denied request. The rate-limit headers,
	// Retry-After included, are already set; res is the limiter's answer
	// and err wraps ErrLimited (and ErrInvalidCost when the request's cost
	// exceeds the limit). Default: 429 with the JSON body
	//
	//	{"error":"rate_limited","message":"rate limit exceeded","retry_after":30}
	//
	// (or its problem+json form) and Cache-Control: no-store.
	DenyHandler func(w http.ResponseWriter, r *http.Request, res Result, err error)
	// ErrorHandler answers a request that cannot be decided: err wraps
	// ErrNoKey when Key failed (default 403 Forbidden), else it is the
	// limiter's failure under FailClosed (default 503 Service
	// Unavailable). The default bodies are like DenyHandler's, with
	// "forbidden" or "unavailable".
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Guard is the framework-neutral rate-limit middleware: adapters/nethttp
// and adapters/echo translate it. It is safe for concurrent use.
type Guard struct {
	opts GuardOptions
}

// NewGuard returns a Guard, or an error wrapping ErrInvalidOptions when
// opts has neither Limiter nor LimiterFor.
func NewGuard(opts GuardOptions) (*Guard, error) {
	if opts.Limiter == nil && opts.LimiterFor == nil {
		return nil, fmt.Errorf("%w: GuardOptions needs a Limiter or LimiterFor", ErrInvalidOptions)
	}
	if opts.Key == nil {
		opts.Key = KeyByIP(nil)
	}
	return &Guard{opts: opts}, nil
}

// Serve decides r and answers it: an allowed request gets the RateLimit
// headers and goes to next; a denied one gets them with Retry-After and the
// DenyHandler's answer (429); a request whose key cannot be found gets the
// ErrorHandler's (403); a limiter failure proceeds to next (fail open) or
// gets the ErrorHandler's answer (503, fail closed), never 429. With a
// RedisLimiter, Serve first attaches its client's request budget
// (core.Client.WithBudget) to r's context, and next gets the request with
// that context, so the whole request shares one budget.
func (g *Guard) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	lim := g.opts.Limiter
	if g.opts.LimiterFor != nil {
		if l := g.opts.LimiterFor(r); l != nil {
			lim = l
		}
	}
	rl, _ := lim.(*RedisLimiter)
	if rl != nil {
		if ctx := rl.c.WithBudget(r.Context()); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
	}
	key, err := g.opts.Key(r)
	if err != nil {
		if !errors.Is(err, ErrNoKey) {
			err = fmt.Errorf("%w: %w", ErrNoKey, err)
		}
		g.fail(w, r, err)
		return
	}
	n := 1
	if g.opts.Cost != nil {
		n = g.opts.Cost(r)
	}
	if n < 1 || lim == nil {
		next.ServeHTTP(w, r)
		return
	}
	var res Result
	if rl != nil {
		res, err = rl.decide(r.Context(), key, n, r)
	} else {
		res, err = lim.AllowN(r.Context(), key, n)
	}
	switch {
	case errors.Is(err, ErrInvalidCost):
		res = tooCostly(res)
		err = fmt.Errorf("%w: %w", ErrLimited, err)
	case err != nil:
		if g.opts.FailClosed {
			g.fail(w, r, err)
		} else {
			next.ServeHTTP(w, r)
		}
		return
	case res.Allowed:
		setHeaders(w.Header(), res, g.opts.LegacyHeaders)
		next.ServeHTTP(w, r)
		return
	default:
		err = ErrLimited
	}
	setHeaders(w.Header(), res, g.opts.LegacyHeaders)
	if g.opts.DenyHandler != nil {
		g.opts.DenyHandler(w, r, res, err)
		return
	}
	rlhttp.Body{Status: http.StatusTooManyRequests, Problem: g.opts.ProblemJSON, RetryAfter: rlhttp.RetryAfter(res.RetryAfter)}.Write(w)
}

// fail answers a request that cannot be decided.
func (g *Guard) fail(w http.ResponseWriter, r *http.Request, err error) {
	if g.opts.ErrorHandler != nil {
		g.opts.ErrorHandler(w, r, err)
		return
	}
	status := http.StatusServiceUnavailable
	if errors.Is(err, ErrNoKey) {
		status = http.StatusForbidden
	}
	rlhttp.Body{Status: status, Problem: g.opts.ProblemJSON}.Write(w)
}

// tooCostly is the denial of a request whose cost can never fit: res
// describes the policy, and the client may retry (with a smaller cost) when
// the window resets.
func tooCostly(res Result) Result {
	res.Allowed, res.Remaining, res.Local = false, 0, false
	res.RetryAfter = res.ResetAfter
	if res.RetryAfter <= 0 {
		res.RetryAfter = res.Window
	}
	return res
}
