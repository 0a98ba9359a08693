package ratelimit_test

import (
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/rediskit/rediskit/ratelimit"
)

// The draft-ietf-httpapi-ratelimit-headers-10 fields as structured-field
// lists of one item: an sf-string name with integer parameters (sf-integer:
// at most 15 digits; these are never negative).
var (
	sfString   = `"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"`
	policyRE   = regexp.MustCompile(`^` + sfString + `;q=\d{1,15};w=\d{1,15}$`)
	rateLimRE  = regexp.MustCompile(`^` + sfString + `;r=\d{1,15};t=\d{1,15}$`)
	nonNegInt  = regexp.MustCompile(`^\d{1,15}$`)
	maxSFInt   = big.NewInt(999_999_999_999_999)
	oneSecond  = big.NewInt(int64(time.Second))
	bigOne     = big.NewInt(1)
	retryAfter = regexp.MustCompile(`^[1-9]\d{0,14}$`)
)

// FuzzSetHeaders: for any Result, SetHeaders writes fields matching the
// draft's syntax, and a denial's Retry-After is RetryAfter in whole seconds
// rounded up (at least 1, capped at the sf-integer maximum).
func FuzzSetHeaders(f *testing.F) {
	f.Add(true, 100, 50, int64(30*time.Second), int64(0), int64(time.Minute), "default")
	f.Add(false, 10, 0, int64(1500*time.Millisecond), int64(1500*time.Millisecond), int64(time.Second), "per-second")
	f.Add(false, -1, -5, int64(-1), int64(-time.Second), int64(0), `a"b\c`)
	f.Add(false, 1<<62, 1<<62, int64(1<<63-1), int64(1<<63-1), int64(1<<63-1), "é\x00\n")
	f.Add(false, 0, 0, int64(1), int64(1), int64(1), "")
	f.Fuzz(func(t *testing.T, allowed bool, limit, remaining int, reset, retry, window int64, policy string) {
		res := ratelimit.Result{Allowed: allowed, Limit: limit, Remaining: remaining, ResetAfter: time.Duration(reset),
			RetryAfter: time.Duration(retry), Window: time.Duration(window), Policy: policy}
		for _, legacy := range []bool{false, true} {
			h := http.Header{}
			ratelimit.SetHeaders(h, res, legacy)
			if v := h.Get("RateLimit-Policy"); !policyRE.MatchString(v) {
				t.Fatalf("RateLimit-Policy %q does not match %s", v, policyRE)
			}
			if v := h.Get("RateLimit"); !rateLimRE.MatchString(v) {
				t.Fatalf("RateLimit %q does not match %s", v, rateLimRE)
			}
			for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				if v := h.Values(name); (len(v) == 1) != legacy || (legacy && !nonNegInt.MatchString(v[0])) {
					t.Fatalf("legacy=%v: %s = %q, want a non-negative integer only with legacy", legacy, name, v)
				}
			}
			ra := h.Values("Retry-After")
			ok := len(ra) == 1
			if ok == allowed {
				t.Fatalf("allowed=%v: Retry-After present=%v", allowed, ok)
			}
			if !ok {
				continue
			}
			if !retryAfter.MatchString(ra[0]) {
				t.Fatalf("Retry-After %q, want a positive integer", ra[0])
			}
			if got, want := ra[0], wantRetryAfter(retry); got != want {
				t.Fatalf("Retry-After for %v: got %s, want %s", time.Duration(retry), got, want)
			}
		}
	})
}

// wantRetryAfter is ceil(ns / 1s), at least 1, at most 999999999999999,
// computed without overflow.
func wantRetryAfter(ns int64) string {
	q, m := new(big.Int).QuoRem(big.NewInt(ns), oneSecond, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, bigOne)
	}
	if q.Cmp(bigOne) < 0 {
		q.Set(bigOne)
	}
	if q.Cmp(maxSFInt) > 0 {
		q.Set(maxSFInt)
	}
	return strconv.FormatInt(q.Int64(), 10)
}
