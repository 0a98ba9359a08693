// Package memo turns a slow function into a read-through cache in Redis with
// stampede protection in and across processes.
//
//	byID, err := memo.Wrap(client, "user", repo.LoadUser, memo.Options{TTL: time.Minute})
//	u, err := byID.Get(ctx, 42)
//
// A *Func is safe for concurrent use. Values handed to concurrent callers of
// one load, and to the hits of one entry in one process, are shared: treat
// a V holding slices, maps or pointers as read-only.
//
// # Contracts
//
//   - One load per key at a time per process (singleflight). The load runs
//     detached from the callers (context.WithoutCancel) under its own
//     LoadTimeout; a caller whose ctx ends gets ctx.Err() alone. Concurrent
//     reads of one key share one GET too, which a waiting caller leaves at
//     once when its ctx ends; the caller running it ends it at its ctx's
//     deadline, not at its cancellation (it waits at most Timeout). A nil
//     ctx is an error wrapping core.ErrNilContext.
//   - With Options.Lease, one load per key across processes: SET NX PX with a
//     random token, released by a compare-and-delete Lua script. Others poll
//     the entry (5 ms, doubling to 50 ms) for at most LeaseWait, taking the
//     lease over if it is released without a value, then load themselves. A
//     crashed holder's lease expires after LeaseTTL.
//   - TTL is jittered (default ±10%). "Not found" results (Options.NotFound or
//     IsNotFound) are cached for NegativeTTL and returned as *NotFoundError
//     (errors.Is ErrNotFound and Options.NotFound); other errors are never
//     cached.
//   - Fresh hits may refresh early (XFetch, Vattani et al., VLDB 2015:
//     refresh when now − delta·Beta·ln(rand) ≥ expiry, delta = last load
//     time). Within StaleWhileRevalidate after expiry the stale value is
//     served and refreshed in the background; within StaleIfError it is
//     served when the load fails. A background refresh runs once: in process
//     through a set of keys being refreshed, across processes through the
//     lease (taken without waiting, whatever Options.Lease says) and a check
//     that the entry is still the one that triggered it.
//   - An entry that cannot be decoded is a miss: reported to OnError
//     (ErrCorrupt), counted, loaded and overwritten.
//   - A load stores its result only if the entry is still what it read just
//     before calling the function (a Lua compare-and-set on the SHA-1 of
//     the bytes). Forget writes a short-lived tombstone in place of the
//     entry (a miss to readers), so a load already running when Forget
//     returns never stores its possibly stale value, and in this process no
//     later Get shares it: PUT, Forget, GET sees the new value. Such
//     results are counted in Stats.Discarded, as are loads that return more
//     than LoadTimeout after that read (the tombstone, which lives
//     LoadTimeout + Timeout + 1 s, may be gone by then).
//
// # Keys
//
// All keys are built with core.MakeKey under Options.Namespace (default
// "memo") and the name given to Wrap:
//
//	<ns>:<name>:gen                    generation number (no TTL); when
//	                                   missing, created from the Redis
//	                                   server clock (internal/generation.Read),
//	                                   so a lost key never brings old
//	                                   entries back
//	<ns>:<name>:g<gen>:<key>           entry, expires at its hard expiry;
//	                                   after Forget a tombstone
//	                                   "memo:forgotten:<token>"
//	<ns>:<name>:lease:g<gen>:<key>     lease, expires after LeaseTTL
//
// <gen> is base 36. <key> is the key function's output: strings and numbers
// as text; other comparable types (structs, arrays) as '#' and 32 hex digits
// of the SHA-256 of their %#v text; parts longer than 128 bytes, starting
// with '#' or holding '{' or '}' hashed the same way. Key types whose text
// is not stable across processes (pointers, channels, maps, slices, funcs,
// interfaces, structs or arrays holding them) need a key function of their
// own: WrapKey takes one, typed func(K) string. Entries
// of one name spread over all cluster slots: no hash tag is used, and none
// can come from a key's text.
//
// ForgetAll is O(1): it increments the generation, so old entries are never
// read again and expire by TTL. Each process caches the generation for
// GenerationRefresh (default 1 s); then one Get rereads it before its own
// read while the others keep using the known number, so a warm hit is one
// round trip, and one hit per GenerationRefresh two (reading the generation
// and the entry in one round trip would need both in one cluster slot, i.e.
// every entry of a name on one node). A failed reread keeps the known
// number (reported to OnError); a failed first read makes the Gets of the
// next Timeout fail at once (open or closed, as configured) instead of
// queueing on Redis. ForgetAll takes effect at once in the calling process
// and within GenerationRefresh in others; Forget of one key at once
// everywhere (it reads the current generation from Redis, and also forgets
// the key under the generation its own process still uses; a Get in
// another process may still share a load running there when Forget
// returns: it gets that load's result, which is not stored).
//
// # Entries
//
// Entries are envelopes encoded by Options.Codec (JSON by default, readable
// with redis-cli): value, created, soft (fresh until) and hard (servable
// until) expiry in Unix milliseconds, the load duration, and for "not found"
// a negative flag and the error text.
//
// # Warm hits
//
// Every hit reads the entry from Redis (or from L1, below), so a write or
// Forget by any process is seen by the next read. What a hit does not
// repeat is the work on unchanged bytes: memo keeps, per Func, the key and
// the decoded value of up to 4,096 recently read entries (one per slot of
// a table by hash of K; entries over 8 KiB keep their key only) and
// reuses the decoded value while the GET returns exactly the bytes it was
// decoded from. A warm hit is then one GET and a comparison: no key
// building, no decoding, no timer (the GET's bound, Timeout and the
// request's deadline and budget, is a deadline-only context that shares
// its timer with the calls ending in the same millisecond). Key types
// whose == does not tell keys apart (floats, whose 0 and -0 render
// differently; interfaces; pointers and channels, rendered by a WrapKey
// function from what they point to) keep no recent entries: their hits
// build the key and decode every time. The entries in Redis stay JSON
// envelopes, readable with redis-cli.
//
// # L1
//
// When the core client has client-side caching on (core.Config
// ClientSideCache, standalone only), warm hits are answered in process by
// go-redis and invalidated by Redis within milliseconds when any client
// writes or deletes the entry (Forget included); with the table above, an
// L1 hit decodes nothing. Stats.L1Hits reports the client's cache hits.
//
// # Failure policy
//
// Each Redis command is bounded by Timeout (default 250 ms), so a slow
// Redis adds at most that to a call, or twice that to the Get that rereads
// the generation; when ctx carries a request budget (core.Client.WithBudget,
// which the HTTP middleware of the other features attach), every command
// also ends with the budget, so memo never waits for Redis past what is
// left of the request's. By default memo fails open: on a Redis error Get
// calls the function (still once per key per process) and returns
// its result without storing it. With FailClosed, Get returns an error
// wrapping ErrUnavailable and never calls the function (a failure while
// taking or waiting for the lease included). A failed write
// after a successful load is reported, never returned. Forget and ForgetAll
// always return Redis errors. Every Redis error, corrupt entry and failed
// background refresh reaches OnError, with the ctx of the call it happened
// in, and the Stats counters; when OnError is nil, memo logs a Warn record
// through slog.Default(), at most one per second.
package memo
