package ratelimit

import (
	"net/http"
	"strconv"

	"github.com/rediskit/rediskit/internal/rlhttp"
)

// setHeaders writes res as the fields of draft-ietf-httpapi-ratelimit-headers-10:
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
func setHeaders(h http.Header, res Result, legacy bool) {
	name := res.Policy
	if name == "" {
		name = defaultPolicy
	}
	q, r, t := sfInt(int64(res.Limit)), sfInt(int64(res.Remaining)), sfInt(rlhttp.CeilSeconds0(res.ResetAfter))
	quoted := sfString(name)
	h.Set("RateLimit-Policy", quoted+";q="+q+";w="+sfInt(rlhttp.CeilSeconds(res.Window)))
	h.Set("RateLimit", quoted+";r="+r+";t="+t)
	if !res.Allowed {
		h.Set("Retry-After", sfInt(rlhttp.CeilSeconds(res.RetryAfter)))
	}
	if legacy {
		h.Set("X-RateLimit-Limit", q)
		h.Set("X-RateLimit-Remaining", r)
		h.Set("X-RateLimit-Reset", t)
	}
}

// sfInt formats n clamped to 0..rlhttp.MaxSeconds (the structured-field
// integer range).
func sfInt(n int64) string { return strconv.FormatInt(min(max(n, 0), rlhttp.MaxSeconds), 10) }

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
