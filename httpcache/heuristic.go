package httpcache

import (
	"net/http"
	"time"
)

// Heuristic freshness (RFC 9111 §4.2.2): a response without explicit
// freshness (no Surrogate-Control or Cache-Control max-age, no s-maxage,
// no Expires) whose status is heuristically cacheable (RFC 9110 §15.1) or
// that has Cache-Control: public, and that carries a valid Last-Modified
// earlier than its Date, is fresh for 10% of the time between the two,
// capped by Storage.MaxHeuristicFreshness (default 24 hours, so the
// Warning 113 of RFC 7234 never applied; negative turns heuristic
// freshness off). A Rule for the path wins over the heuristic. Such an
// entry is flagged: its hits carry Cache-Status detail=heuristic (RFC
// 9211 §2.8) and, like every response the cache serves, an Age field a
// client can compare with the lifetime it would compute itself.

// defaultMaxHeuristic caps heuristic freshness unless configured.
const defaultMaxHeuristic = 24 * time.Hour

// heuristicFraction is the share of the time since Last-Modified a
// response stays fresh (the RFC's "typical setting").
const heuristicFraction = 10

// detailHeuristic is the Cache-Status detail of responses fresh by heuristic.
const detailHeuristic = "heuristic"

// heuristicLifetime returns the heuristic freshness lifetime of a response
// with header h received at now, and whether there is one.
func (c *Cache) heuristicLifetime(h http.Header, now time.Time) (time.Duration, bool) {
	limit := c.opts.Storage.MaxHeuristicFreshness
	if limit <= 0 {
		return 0, false
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return 0, false
	}
	date := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		date = d
	}
	since := date.Sub(lm)
	if since <= 0 {
		return 0, false
	}
	return min(since/heuristicFraction, limit), true
}

// freshDetail is the Cache-Status detail of a hit on e.
func freshDetail(e *entry) string {
	if e.flags&flagHeuristic != 0 {
		return detailHeuristic
	}
	return ""
}
