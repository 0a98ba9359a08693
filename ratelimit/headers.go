package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Header names.
const (
	HeaderRateLimitPolicy = "RateLimit-Policy"
	HeaderRateLimit       = "RateLimit"
	HeaderRetryAfter      = "Retry-After"
	HeaderLegacyLimit     = "X-RateLimit-Limit"
	HeaderLegacyRemaining = "X-RateLimit-Remaining"
	HeaderLegacyReset     = "X-RateLimit-Reset"
)

// SetHeaders writes res as the fields of draft-ietf-httpapi-ratelimit-headers-10:
//
//	RateLimit-Policy: "default";q=100;w=60
//	RateLimit: "default";r=50;t=30
//
// q is the quota, w the window in seconds, r the remaining units and t the
// seconds until the quota resets (both rounded up). A denied result also
// gets Retry-After in whole seconds, rounded up, at least 1. With legacy,
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds
// until reset) are added. Whatever res holds, the fields are valid: numbers
// are clamped to 0..999,999,999,999,999 (the structured-field integer
// range) and a policy name is written as a valid sf-string ('"' and '\'
// escaped, bytes outside printable ASCII replaced by '_'; the constructors
// only accept names of letters, digits, '_', '-' and '.').
func SetHeaders(h http.Header, res Result, legacy bool) {
	name := res.Policy
	if name == "" {
		name = DefaultPolicy
	}
	q, r, t := sfInt(int64(res.Limit)), sfInt(int64(res.Remaining)), sfInt(ceilSeconds0(res.ResetAfter))
	quoted := sfString(name)
	h.Set(HeaderRateLimitPolicy, quoted+";q="+q+";w="+sfInt(ceilSeconds(res.Window)))
	h.Set(HeaderRateLimit, quoted+";r="+r+";t="+t)
	if !res.Allowed {
		h.Set(HeaderRetryAfter, sfInt(ceilSeconds(res.RetryAfter)))
	}
	if legacy {
		h.Set(HeaderLegacyLimit, q)
		h.Set(HeaderLegacyRemaining, r)
		h.Set(HeaderLegacyReset, t)
	}
}

// maxSFInt is the largest structured-field integer (RFC 8941 §3.3.1).
const maxSFInt = 999_999_999_999_999

// sfInt formats n clamped to 0..maxSFInt.
func sfInt(n int64) string { return strconv.FormatInt(min(max(n, 0), maxSFInt), 10) }

// sfString quotes s as a structured-field string (RFC 8941 §3.3.3).
func sfString(s string) string {
	if validToken(s) {
		return `"` + s + `"`
	}
	b := make([]byte, 0, len(s)+4)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '_')
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// ceilSeconds rounds d up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int64 { return max(1, ceilSeconds0(d)) }

// ceilSeconds0 rounds d up to whole seconds, at least 0, without overflow.
func ceilSeconds0(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// ErrorBody is the JSON body of the middleware's error responses, shared by
// the adapters so they answer byte for byte alike:
//
//	{"error":"rate_limited","message":"rate limit exceeded","retry_after":30}
//
// or, with Problem, an RFC 9457 problem document:
//
//	{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":30}
type ErrorBody struct {
	Status     int  // 429, 503 or 403
	Problem    bool // application/problem+json
	RetryAfter int  // seconds; 0 omits the member
}

// ContentType is the body's media type.
func (b ErrorBody) ContentType() string {
	if b.Problem {
		return "application/problem+json"
	}
	return "application/json"
}

// MarshalJSON renders the body compactly, members in a fixed order.
func (b ErrorBody) MarshalJSON() ([]byte, error) {
	code, msg := "rate_limited", "rate limit exceeded"
	switch b.Status {
	case http.StatusServiceUnavailable:
		code, msg = "unavailable", "rate limiter unavailable"
	case http.StatusForbidden:
		code, msg = "forbidden", "cannot identify the client"
	}
	out := make([]byte, 0, 128)
	if b.Problem {
		out = append(out, `{"type":"about:blank","title":`...)
		out = strconv.AppendQuote(out, http.StatusText(b.Status))
		out = append(out, `,"status":`...)
		out = strconv.AppendInt(out, int64(b.Status), 10)
		out = append(out, `,"detail":`...)
	} else {
		out = append(out, `{"error":`...)
		out = strconv.AppendQuote(out, code)
		out = append(out, `,"message":`...)
	}
	out = strconv.AppendQuote(out, msg)
	if b.RetryAfter > 0 {
		out = append(out, `,"retry_after":`...)
		out = strconv.AppendInt(out, int64(b.RetryAfter), 10)
	}
	return append(out, '}'), nil
}
