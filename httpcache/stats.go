package httpcache

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Outcomes of a GET or HEAD request, reported in Result.Status.
const (
	StatusHit         = "hit"         // served from a fresh entry (or one a request's max-stale accepted)
	StatusStale       = "stale"       // served stale: stale-while-revalidate, stale-if-error or an unreachable origin
	StatusRevalidated = "revalidated" // stale entry confirmed by a 304 from the handler
	StatusMiss        = "miss"        // answered by the handler
	StatusCollapsed   = "collapsed"   // waited for another request's handler call and reused its response
	StatusBypass      = "bypass"      // not cacheable (Upgrade, If-Match, disallowed host, …)
	StatusError       = "error"       // Redis failed; answered by the handler
	StatusGatewayTO   = "only-if-cached"
)

// Result describes what the cache did with one request.
type Result struct {
	Status string `json:"status"`
	// Stored reports the handler's response was stored.
	Stored bool `json:"stored"`
	// Reason is why a response was not stored, or the stale rule used
	// ("stale-while-revalidate", "stale-if-error", "origin-unreachable"). The reasons, also the
	// keys of Stats.NotStorable and the Cache-Status detail, are
	// "request-no-store", "no-store", "private", "authorization",
	// "set-cookie", "status", "vary-star", "no-freshness", "too-large" and
	// "redis-error".
	Reason string        `json:"reason,omitempty"`
	Age    time.Duration `json:"age"` // nanoseconds in JSON
}

// Stats are cumulative counters since New.
type Stats struct {
	Hits        uint64 `json:"hits"`
	Stale       uint64 `json:"stale"`
	Revalidated uint64 `json:"revalidated"`
	Misses      uint64 `json:"misses"`
	Collapsed   uint64 `json:"collapsed"`
	Bypassed    uint64 `json:"bypassed"`
	Stored      uint64 `json:"stored"`
	Invalidated uint64 `json:"invalidated"`
	Purged      uint64 `json:"purged"`
	Errors      uint64 `json:"errors"`
	// LeaseWaits counts misses that waited for another instance's handler
	// call (Options.Collapse), LeaseTimeouts those of them that stopped
	// waiting after Collapse.LeaseWait.
	LeaseWaits    uint64 `json:"lease_waits"`
	LeaseTimeouts uint64 `json:"lease_timeouts"`
	// LocalHits counts lookups the in-process tier answered (Options.Local),
	// LocalBytes is what it holds now.
	LocalHits  uint64 `json:"local_hits"`
	LocalBytes int64  `json:"local_bytes"`
	// NotStorable counts responses not stored, by reason.
	NotStorable map[string]uint64 `json:"not_storable"`
}

type stats struct {
	hits, stale, revalidated, misses, collapsed, bypassed atomic.Uint64
	stored, invalidated, errors                           atomic.Uint64
	leaseWaits, leaseTimeouts                             atomic.Uint64
	purged                                                atomic.Int64
	notStorable                                           [16]atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	s := &c.stats
	out := Stats{Hits: s.hits.Load(), Stale: s.stale.Load(), Revalidated: s.revalidated.Load(),
		Misses: s.misses.Load(), Collapsed: s.collapsed.Load(), Bypassed: s.bypassed.Load(),
		Stored: s.stored.Load(), Invalidated: s.invalidated.Load(), Purged: uint64(max(s.purged.Load(), 0)),
		Errors: s.errors.Load(), LeaseWaits: s.leaseWaits.Load(), LeaseTimeouts: s.leaseTimeouts.Load(), NotStorable: map[string]uint64{}}
	if l := c.local; l != nil {
		out.LocalHits, out.LocalBytes = l.hits.Load(), l.size()
	}
	for i, r := range reasons {
		if n := s.notStorable[i].Load(); n > 0 {
			out.NotStorable[r] = n
		}
	}
	return out
}

func (c *Cache) countNotStorable(reason string) {
	for i, r := range reasons {
		if r == reason {
			c.stats.notStorable[i].Add(1)
		}
	}
}

func (c *Cache) result(r *http.Request, res Result) {
	s := &c.stats
	switch res.Status {
	case StatusHit:
		s.hits.Add(1)
	case StatusStale:
		s.stale.Add(1)
	case StatusRevalidated:
		s.revalidated.Add(1)
	case StatusMiss, StatusGatewayTO:
		s.misses.Add(1)
	case StatusCollapsed:
		s.collapsed.Add(1)
	case StatusBypass, StatusError:
		s.bypassed.Add(1)
	}
	if res.Stored {
		s.stored.Add(1)
	} else if res.Reason != "" && res.Status != StatusStale {
		c.countNotStorable(res.Reason)
	}
	if c.opts.OnResult != nil {
		c.opts.OnResult(r, res)
	}
}

// cacheStatus formats this cache's Cache-Status member (RFC 9211).
type cacheStatus struct {
	hit       bool
	fwd       string // bypass, miss, stale, request, uri-miss, vary-miss
	fwdStatus int
	ttl       time.Duration
	hasTTL    bool
	stored    bool
	collapsed bool
	key       string
	detail    string
}

func (c *Cache) setCacheStatus(h http.Header, cs cacheStatus) {
	if c.opts.CacheStatus.Disable {
		return
	}
	var buf [128]byte
	h["Cache-Status"] = append(h["Cache-Status"], string(c.appendCacheStatus(buf[:0], cs)))
}

// appendCacheStatus appends this cache's Cache-Status member to b (nothing
// when the header is disabled).
func (c *Cache) appendCacheStatus(b []byte, cs cacheStatus) []byte {
	if c.opts.CacheStatus.Disable {
		return b
	}
	b = append(b, c.opts.CacheStatus.Name...)
	if cs.hit {
		b = append(b, "; hit"...)
	} else if cs.fwd != "" {
		b = append(b, "; fwd="...)
		b = append(b, cs.fwd...)
		if cs.fwdStatus != 0 {
			b = append(b, "; fwd-status="...)
			b = strconv.AppendInt(b, int64(cs.fwdStatus), 10)
		}
	}
	if cs.hasTTL {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, int64(cs.ttl.Round(time.Second)/time.Second), 10)
	}
	if cs.stored {
		b = append(b, "; stored"...)
	}
	if cs.collapsed {
		b = append(b, "; collapsed"...)
	}
	if c.opts.CacheStatus.ExposeKey && cs.key != "" {
		b = append(b, "; key="...)
		b = appendSFString(b, cs.key)
	}
	if cs.detail != "" {
		b = append(b, "; detail="...)
		b = append(b, cs.detail...)
	}
	return b
}

// appendSFString appends s as a structured-field string (RFC 8941
// §3.3.3): quotes and backslashes escaped, bytes outside printable ASCII
// (which it cannot hold) percent-encoded.
func appendSFString(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
