// Package rlhttp is the error body of the rate limiter's HTTP answers
// (429, 403, 503), shared by ratelimit.Guard, which writes it, and the Echo
// adapter, which returns it inside an *echo.HTTPError for Echo's error
// handler to write: both answer byte for byte alike.
package rlhttp

import (
	"net/http"
	"strconv"
	"time"
)

// Body is the JSON body of an error response:
//
//	{"error":"rate_limited","message":"rate limit exceeded","retry_after":30}
//
// or, with Problem, an RFC 9457 problem document:
//
//	{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"rate limit exceeded","retry_after":30}
type Body struct {
	Status     int  // 429, 503 or 403
	Problem    bool // application/problem+json
	RetryAfter int  // seconds; 0 omits the member
}

// ContentType is the body's media type.
func (b Body) ContentType() string {
	if b.Problem {
		return "application/problem+json"
	}
	return "application/json"
}

// MarshalJSON renders the body compactly, members in a fixed order.
func (b Body) MarshalJSON() ([]byte, error) {
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

// SetHeaders sets the Content-Type of b and Cache-Control: no-store on h.
func (b Body) SetHeaders(h http.Header) {
	h.Set("Content-Type", b.ContentType())
	h.Set("Cache-Control", "no-store")
}

// Write writes the response: headers, status and the body with a final
// newline (as Echo's JSON writer ends it).
func (b Body) Write(w http.ResponseWriter) {
	b.SetHeaders(w.Header())
	w.WriteHeader(b.Status)
	out, _ := b.MarshalJSON()
	_, _ = w.Write(append(out, '\n'))
}

// MaxSeconds is the largest structured-field integer (RFC 8941 §3.3.1),
// the largest number of seconds a header or body holds.
const MaxSeconds = 999_999_999_999_999

// CeilSeconds rounds d up to whole seconds, at least 1.
func CeilSeconds(d time.Duration) int64 { return max(1, CeilSeconds0(d)) }

// CeilSeconds0 rounds d up to whole seconds, at least 0, without overflow.
func CeilSeconds0(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// RetryAfter is the Retry-After of a denial in whole seconds: d rounded
// up, at least 1, at most MaxSeconds.
func RetryAfter(d time.Duration) int { return int(min(CeilSeconds(d), MaxSeconds)) }
