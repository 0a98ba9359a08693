// Package viewcount counts item views in Redis: totals, unique visitors,
// day buckets, top-N rankings, and a separate total for bots, either with
// one round trip per view (Direct) or aggregated in process and flushed
// every second (Buffered).
//
// # Contracts
//
// A view of an item by a visitor counts once per dedup window (default
// 30 min; one atomic SET NX PX per visitor and item): reloads inside the
// window count nothing. A counted view increments the item's total and its
// day bucket, adds the visitor to a HyperLogLog (0.81% standard error, at
// most about 12 KB per item), and increments the item in the ranking of the
// current bucket of every configured period, so Top is one ZREVRANGE.
//
// Direct mode sends each Record as one pipeline, which is one round trip:
// on a standalone server it holds a single Lua script doing all of the
// above; on a cluster the ranking keys live in another slot than the item's,
// so the pipeline holds two scripts, the item's and the rankings' (the
// latter keeps its own dedup key in the ranking slot), which go-redis sends
// concurrently, one request per node involved (one or two). The first call
// after a server (re)start loads the scripts on every node: a few more round
// trips, once. A go-redis retry of a Record whose reply was lost (a
// connection reset after Redis applied it) is harmless while dedup is on:
// the retry is a repeat view. With dedup off, and for RecordBot, the write
// is not idempotent, so it is sent at most once (go-redis' retries are
// disabled for it through Cmder.NoRetry): after such a reset the call
// returns an error and the view is counted once or, if Redis never got it,
// not at all; never twice.
//
// Buffered mode holds views in process (a repeat of a visitor in the same
// batch is dropped at once) and flushes every FlushInterval: one pipeline of
// scripts, one per slot (a single group on a standalone server) and per
// chunk of at most 256 items or 4,096 visitors, then one more for the
// rankings, whose increments depend on what Redis counted. Dedup across
// batches and processes is decided by Redis at flush time (the window then
// starts at the flush, up to one interval late). Each batch has a random id;
// each script first checks a marker key for its chunk (in the same slot,
// kept for MarkerTTL, storing what the chunk counted) and applies nothing if
// it exists, so a retried batch is never applied twice. A failed flush
// keeps its batch and retries it at the next tick; at most MaxPending views
// are held, views past that are dropped, reported to OnDrop, and Record
// returns ErrBufferFull. Close flushes the rest, retrying until its ctx is
// done, and returns soon after that even when Redis does not answer; every
// view it could not send is reported to OnDrop and OnError once (those of a
// flush stuck in a Redis read when the read ends, possibly after Close
// returned). Counts and Top read only what
// was flushed.
//
// Replication is asynchronous: a flush the master acknowledged and then
// lost in a failover before its replica copied it is gone. With
// Options.WaitReplicas n a flush is durable: its pipeline ends with WAIT n
// on the same connection, and a batch leaves the buffer only once n
// replicas acknowledged it; otherwise (ErrNotReplicated) it is kept and
// sent again, a marker no-op that WAITs again, so a view is counted once
// and, once acknowledged, survives the promotion of a replica. It costs one
// command per flush pipeline and the replicas' acknowledgement time
// (BenchmarkViewCountFlush: about 2.1 ms without and 2.7 to 4 ms with
// WAIT 1 for 100 views on loopback); Record is not slowed. On a cluster
// each master written to WAITs for its own replicas.
//
// # Keys
//
// Every key starts with Options.Namespace (default "viewcount"). Item ids
// are user input: inside the hash tag, an id of at most 128 bytes of only
// [A-Za-z0-9._/-] is used as is, any other as '#' and 32 hex digits of its
// SHA-256 (internal/keypart's hashed form), so '{', '}', '*' or ':' in an
// id can neither move its keys to another slot nor reach another item's
// keys.
// Rankings store the raw ids as members: Top returns them unchanged.
//
//	<ns>:{<item>}:total          views (INCRBY), no TTL
//	<ns>:{<item>}:uniq           HyperLogLog of visitor digests, no TTL
//	<ns>:{<item>}:bots           bot views, no TTL
//	<ns>:{<item>}:day:YYYY-MM-DD views of a day, TTL Retention (90 days)
//	<ns>:{<item>}:seen:<digest>  dedup marker, TTL DedupWindow
//	<ns>:{<item>}:flush:<batch>  buffered flush marker, TTL MarkerTTL
//	<ns>:{top}:<secs>:<bucket>   ranking per period bucket, TTL 2 periods from last increment
//	<ns>:{top}:seen:<h>:<digest> cluster direct mode: ranking dedup marker
//	<ns>:{top}:flush:<batch>     buffered ranking flush marker
//
// # Privacy
//
// Visitor ids (an IP, a cookie, a user id) never reach Redis: Record keeps
// only the first 128 bits of HMAC-SHA256(Options.Secret, id). The HTTP
// helpers (Tracker, VisitorIP, VisitorCookie, VisitorUser) resolve the
// client IP with clientip under the same trusted-proxy rules as the rate
// limiter.
//
// # Failure policy
//
// Counting fails open. Each Redis call of a Direct Counter (Record,
// RecordBot, Counts, Top) waits at most Options.Timeout (1 s) and, under
// a Tracker, what is left of the request budget (core.Client.WithBudget,
// which Tracker.Serve attaches first: 500 ms by default, shared with the
// rate limiter, the response cache and memoized loads of the request). A
// Direct Record returns the Redis error or timeout and the view is not
// counted (on a cluster, where the item and ranking scripts go to different
// nodes, one of them may have been applied). The Tracker reports such
// errors to Options.OnError and never fails a request. Buffered mode keeps
// a failed flush's batch, reports the failure to OnError and retries it;
// views it gives up on are reported to OnError and OnDrop. Without an
// OnError, failures are logged through slog.Default() at Warn, at most one
// record per second per Counter. Stats counts them. On a cluster,
// CLUSTERDOWN (a master lost) is such a failure; MOVED and ASK during a
// slot migration are followed, but while an item's keys are split between
// two masters mid-MIGRATE, Redis refuses its multi-key script with
// TRYAGAIN: that Direct view is not counted (an error is returned) and a
// buffered batch is retried at the next flush.
//
// Under memory pressure, use noeviction or a volatile-* policy: totals,
// uniques and bot totals have no TTL, so volatile-lru never evicts them and
// totals never go backwards; what it may evict are TTL'd keys: a dedup marker
// (a repeat view then counts again), a day bucket, a ranking, or a flush
// marker (a batch retried after its marker was evicted would be applied
// twice). Under allkeys-* a total itself may be evicted and restart from
// zero. With noeviction a full Redis refuses writes (OOM), handled as above.
//
// # Start-up check
//
// Call Counter.Check at start-up: it runs every command the Counter uses,
// derived from its scripts, on probe keys under its Namespace and returns
// an error naming a missing ACL permission. An ACL user needs key access to
// "<ns>:*" and GET, SET, MGET, INCRBY, EXPIRE, PFADD, PFCOUNT, ZINCRBY,
// ZREVRANGE, EVAL, EVALSHA and SCRIPT, for example
//
//	user app on >secret ~viewcount:* &* +@all -@dangerous -@admin
//
// A Counter and a Tracker are safe for concurrent use.
package viewcount
