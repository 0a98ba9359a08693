package memo

import (
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Stats counts what a Func did since Wrap. Counters only grow.
type Stats struct {
	Hits           int64 `json:"hits"`            // fresh entries served (L1 or Redis), negative ones included
	NegativeHits   int64 `json:"negative_hits"`   // of Hits, cached "not found" results
	L1Hits         int64 `json:"l1_hits"`         // reads the client's client-side cache answered in process (see below)
	Misses         int64 `json:"misses"`          // reads that found no servable entry (absent, expired, corrupt, stale-if-error)
	Loads          int64 `json:"loads"`           // calls of the wrapped function
	LoadErrors     int64 `json:"load_errors"`     // calls that failed (not counting "not found")
	StaleServed    int64 `json:"stale_served"`    // stale entries served (stale-while-revalidate or stale-if-error)
	EarlyRefreshes int64 `json:"early_refreshes"` // background loads started by XFetch before expiry
	StaleRefreshes int64 `json:"stale_refreshes"` // background loads started by stale-while-revalidate
	LeaseWaits     int64 `json:"lease_waits"`     // loads that found another process's lease and waited
	LeaseTimeouts  int64 `json:"lease_timeouts"`  // waits that ran out (LeaseWait) and loaded themselves
	Errors         int64 `json:"errors"`          // failed or timed-out Redis commands (each also sent to OnError)
	CorruptEntries int64 `json:"corrupt_entries"` // entries that could not be decoded (overwritten by the next load)
	Discarded      int64 `json:"discarded"`       // loaded values returned but not stored: the entry changed meanwhile (Forget, another load) or the load overran LoadTimeout
}

type counters struct {
	hits, negativeHits, misses, loads, loadErrors, staleServed atomic.Int64
	earlyRefreshes, staleRefreshes, leaseWaits, leaseTimeouts  atomic.Int64
	redisErrors, corrupt, discarded                            atomic.Int64
}

// Stats returns a snapshot of the counters. L1Hits is the hit count of the
// go-redis client-side cache of the core client (zero when it is off): it
// covers every cached read made through that client, so it equals this
// Func's L1 hits only when the client serves this Func alone.
func (f *Func[K, V]) Stats() Stats {
	s := &f.stats
	out := Stats{
		Hits: s.hits.Load(), NegativeHits: s.negativeHits.Load(), Misses: s.misses.Load(),
		Loads: s.loads.Load(), LoadErrors: s.loadErrors.Load(), StaleServed: s.staleServed.Load(),
		EarlyRefreshes: s.earlyRefreshes.Load(), StaleRefreshes: s.staleRefreshes.Load(),
		LeaseWaits: s.leaseWaits.Load(), LeaseTimeouts: s.leaseTimeouts.Load(),
		Errors: s.redisErrors.Load(), CorruptEntries: s.corrupt.Load(), Discarded: s.discarded.Load(),
	}
	if r, ok := f.rdb.(*redis.Client); ok && f.l1 {
		out.L1Hits = int64(r.CSCStats().Hits)
	}
	return out
}
