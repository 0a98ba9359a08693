// Package rediskitotel reports rediskit to OpenTelemetry: spans for memo
// loads, rate-limit decisions, response-cache fetches and view-count
// flushes, a histogram of the time every Redis call waited, and the
// features' Stats as observable counters with the same meaning. It is its
// own module (github.com/rediskit/rediskit/otel), so programs that do not
// import it never pull OpenTelemetry in.
//
// Wiring is once per core.Client:
//
//	inst, err := rediskitotel.Instrument(client, rediskitotel.Options{Redis: true})
//	c := inst.Client() // build every feature on c: they all report, no option each
//	users, err := memo.Wrap(c, "user", loadUser, memo.Options{})
//	err = inst.Memo("user", users) // export users.Stats() as rediskit.memo.*
//
// Instrument implements core.Observer; a Client without an Observer
// reports nothing and pays nothing (no call, no allocation). With one, a
// warm memo hit, a rate-limit decision or a cache hit costs one histogram
// record, plus one span for a decision. The counters read Stats() at
// collection time, so they cost nothing on the request path and always
// equal Stats().
//
// # Instruments
//
// Meter and tracer scope: ScopeName. Counters carry the attribute
// rediskit.name (the name given to Memo, RateLimit, HTTPCache or
// ViewCount); the histogram carries rediskit.feature (memo, ratelimit,
// httpcache, viewcount). All counters are cumulative, monotonic observable
// counters unless marked otherwise.
//
//	name                              kind                 unit        Stats field
//	rediskit.memo.hits                counter              {hit}       memo.Stats.Hits
//	rediskit.memo.misses              counter              {miss}      memo.Stats.Misses
//	rediskit.memo.stale               counter              {hit}       memo.Stats.StaleServed
//	rediskit.memo.loads               counter              {call}      memo.Stats.Loads
//	rediskit.memo.errors              counter              {error}     memo.Stats.Errors
//	rediskit.ratelimit.allowed        counter              {decision}  ratelimit.Stats.Allowed
//	rediskit.ratelimit.denied         counter              {decision}  ratelimit.Stats.Denied (local ones included)
//	rediskit.ratelimit.local_denied   counter              {decision}  ratelimit.Stats.LocalDenied
//	rediskit.ratelimit.errors         counter              {error}     ratelimit.Stats.Errors (failed open, or 503 with FailClosed)
//	rediskit.httpcache.hits           counter              {response}  httpcache.Stats.Hits
//	rediskit.httpcache.misses         counter              {response}  httpcache.Stats.Misses
//	rediskit.httpcache.stale          counter              {response}  httpcache.Stats.Stale
//	rediskit.httpcache.stored         counter              {response}  httpcache.Stats.Stored
//	rediskit.httpcache.errors         counter              {error}     httpcache.Stats.Errors
//	rediskit.viewcount.recorded       counter              {view}      viewcount.Stats.Recorded
//	rediskit.viewcount.counted        counter              {view}      viewcount.Stats.Counted
//	rediskit.viewcount.flushed        counter              {view}      viewcount.Stats.Flushed
//	rediskit.viewcount.dropped        counter              {view}      viewcount.Stats.Dropped
//	rediskit.viewcount.flushes        counter              {flush}     viewcount.Stats.Flushes
//	rediskit.viewcount.flush_errors   counter              {flush}     viewcount.Stats.FlushErrors
//	rediskit.viewcount.errors         counter              {error}     viewcount.Stats.Errors
//	rediskit.viewcount.pending        up-down counter      {view}      viewcount.Stats.Pending
//	rediskit.viewcount.flush.lag      gauge (float64)      s           time since Stats.LastFlush while views are pending, else 0
//	rediskit.redis.wait               histogram (float64)  s           each Redis call's wait (what the request budget is charged), by rediskit.feature
//
// # Spans
//
// Named rediskit.<feature>.<operation>, kind internal, with the attributes
// rediskit.feature and rediskit.operation; a failure is recorded on the
// span and sets its status to Error:
//
//	rediskit.memo.load           a call of the wrapped function and the store of its result (not found is not an error)
//	rediskit.ratelimit.decision  one Allow/AllowN, the Guard's included (a denial is not an error)
//	rediskit.httpcache.fetch     the handler answering a miss or revalidation, and the store (a 5xx answer is an error)
//	rediskit.viewcount.flush     one flush that sends buffered views
//
// The spans are children of the ctx the feature got (the request's), and
// the handler behind httpcache runs in the fetch span. With Options.Redis,
// go-redis' redisotel adds a span and a duration per Redis command, named
// and attributed as redisotel documents (db.system and others).
package rediskitotel
