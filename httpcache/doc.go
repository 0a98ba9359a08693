// Package httpcache is an RFC 9111 shared HTTP cache for an application's
// own responses, storing them in Redis.
//
// A Cache is created with New and used as net/http middleware
// (adapters/nethttp), as Echo middleware (adapters/echo), or through
// Cache.Serve, the framework-neutral entry point both adapters call. It
// follows the shared-cache rules of RFC 9111:
//
//   - Only GET responses are stored; HEAD is answered from a GET entry.
//     A response is stored when its status is final and understood and it
//     has explicit freshness (s-maxage, max-age, Expires) or public, or its
//     status is heuristically cacheable (200, 203, 204, 300, 301, 308, 404,
//     405, 410, 414, 501). Without explicit freshness a response gets the
//     TTL of a matching Rule, else heuristic freshness (§4.2.2): 10% of the
//     time since its Last-Modified, capped by
//     Options.Storage.MaxHeuristicFreshness (default 24h; negative turns
//     it off), reported as Cache-Status detail=heuristic; else none (it is
//     stored stale, for revalidation, when it has a validator).
//   - Surrogate-Control (the header CDNs read; directives untargeted or
//     targeted at this cache with ";<CacheStatus.Name>") wins over
//     Cache-Control for this cache: its no-store keeps a response out, its
//     max-age replaces the Cache-Control freshness and no-store/no-cache/
//     must-revalidate, so an origin can say "Cache-Control: no-store" to
//     browsers and "Surrogate-Control: max-age=60" to this cache. The
//     header never reaches clients; requests to the handler carry
//     Surrogate-Capability: <name>="Surrogate/1.0". See
//     Options.Storage.IgnoreSurrogateControl.
//   - Not stored: no-store, private, Vary: *, a request's no-store, a
//     response to a request with Authorization unless it has public,
//     s-maxage or must-revalidate (§3.5), a response with Set-Cookie unless
//     Options.Storage.StoreSetCookie (which stores it without Set-Cookie),
//     a body over Options.Storage.MaxBodyBytes (default 1 MiB; such a body streams to the
//     client and is never buffered whole), a 206 (see Range below).
//     Set-Cookie is the safe default of an application cache: a response
//     that sets a cookie is usually personal, and a shared copy would hand
//     one client's cookie, or a page made for it, to others. Hop-by-hop and Connection-listed
//     fields are never stored. Status, header fields and multiple values
//     are replayed as the handler wrote them, with Age.
//   - Request directives no-cache, no-store, max-age, min-fresh, max-stale
//     and only-if-cached (504 when nothing usable is stored), response
//     directives no-store, no-cache, private, public, must-revalidate,
//     proxy-revalidate, s-maxage, stale-while-revalidate and stale-if-error
//     (RFC 5861, capped by Options).
//   - Clients' If-None-Match and If-Modified-Since are answered with 304
//     from the entry (without Last-Modified, If-Modified-Since is compared
//     with the entry's Date, §4.3.2); a stale entry is revalidated with a
//     conditional request to the handler, and a 304 refreshes its header
//     fields.
//   - Range (RFC 9110 §14): one byte range, "first-last", "first-" or
//     "-suffix", is answered 206 from a stored complete 200, a range past
//     its end 416 with Content-Range "bytes */<length>"; If-Range is
//     honoured (strong ETag or strong Last-Modified), several ranges or an
//     invalid field get the whole 200. A range request that misses goes
//     to the handler as sent; a 206 it answers is passed on, not stored:
//     the cache stores whole responses (up to MaxBodyBytes) and cuts
//     ranges from them, and combining parts needs a shared strong
//     validator (RFC 9111 §3.4), which a part without one cannot give. A
//     206 whose Content-Range disagrees with its body length is never
//     guessed at.
//   - Disconnected origin (§4.2.4): a handler that could not reach its
//     origin says so with OriginUnreachable (examples/cacheproxy does, from
//     httputil.ReverseProxy's ErrorHandler); the cache then answers with
//     the stale entry it was revalidating, unless must-revalidate,
//     proxy-revalidate, s-maxage, no-cache or the request's no-cache,
//     max-age or min-fresh forbid it.
//   - Vary: request fields are compared normalised: whitespace around
//     list elements dropped; Accept-Encoding as the set of codings it
//     accepts; Accept-Language, Accept-Charset and Accept as sets of
//     case-folded elements with numeric q-values (order among them is not
//     significant, RFC 9110 §12.5.4).
//   - A successful POST, PUT, PATCH or DELETE (any unsafe method)
//     invalidates its URI and same-origin Location and Content-Location.
//   - Every GET or HEAD response carries a Cache-Status member (RFC 9211).
//
// # Keys
//
// The key of a request is its scheme, host, path and query (ignored
// parameters dropped, optionally sorted). The scheme is "https" when the
// request came over TLS (r.TLS set), else "http", unless
// Options.Keys.Scheme fixes it: behind a proxy that terminates TLS, http and https requests
// look alike and share entries. The host must be on Options.Keys.Hosts or is
// replaced by Keys.CanonicalHost (the handler then sees the canonical
// host), else the request bypasses the cache; with neither set every host
// is keyed as sent. X-Forwarded-Host, Forwarded, X-Forwarded-Proto and the
// other Keys.StripHeaders are never keyed and are removed before the
// handler runs, so they cannot poison an entry. A key longer than
// Keys.MaxKeyBytes, holding '{' or '}' or starting with '#' is replaced by
// "#" and 32 hex digits of its SHA-256 (the one key-part encoding of
// rediskit). Redis keys, built with core.MakeKey:
//
//	<ns>:gen                 generation number: PurgeAll increments it;
//	                         created from the server clock (unix ms) when
//	                         missing, so a lost key never brings back
//	                         entries of an earlier generation
//	<ns>:g<gen>:{<key>}      one response (a string), or for a response
//	                         with Vary a hash: field "vary" holds the
//	                         normalized Vary names, field "v:<hash>" one
//	                         variant (Accept-Encoding normalized); at most
//	                         MaxVariants variants, another evicts an
//	                         arbitrary older one
//	<ns>:g<gen>:lease:{<key>}  lease of the instance calling the handler
//	                         for <key> (its token, or "pass"), expires after
//	                         Collapse.LeaseTTL
//	<ns>:g<gen>:tag:<tag>    sorted set of the entry keys carrying tag,
//	                         scored by their expiry (server milliseconds);
//	                         expired members are dropped whenever an entry
//	                         is added, the set expires with its last member
//
// where <ns> is Options.Namespace ("httpcache"). An entry's TTL is its
// remaining freshness plus the longest of its stale-while-revalidate,
// stale-if-error and Options.Storage.StaleRetention windows, capped by
// Storage.MaxTTL.
// Purge removes one URL's entry (all variants), PurgeTag the entries of a
// tag (cost proportional to the tag's size), PurgeAll everything in O(1).
//
// # Failure policy
//
// The cache fails open: when Redis errors or exceeds Options.Timeout (one
// call) or the request budget (all the Redis calls of one request, see
// core.Config.RequestBudget; Serve attaches it), the handler answers and
// nothing is stored; the error goes to Options.OnError (by default a
// rate-limited slog warning) and Stats.Errors. Until the generation number
// was read once, concurrent requests share one read, and for Timeout after
// it failed requests fail open without waiting for Redis. Errors name an entry
// by its generation and a hash of its key ("g3 entry 9f86d081884c7d65"),
// never by URL, since a query string may hold a secret. A corrupt entry is
// a miss. A response
// is stored whole (body, header fields and tags, tags first) or not at all,
// and a client receives either a whole stored response or the handler's.
//
// Call Cache.Check at start-up: it runs every command the cache uses (the
// commands its scripts call, read from the scripts, and the plain ones) on
// probe keys under Namespace and returns an error naming a missing ACL
// permission (while serving, a refused command is just a Redis error: the
// cache fails open). An ACL user needs key access to "<ns>:*" and GET, SET,
// HGET, HSET, HLEN, HKEYS, HDEL, TYPE, PTTL, PEXPIRE, DEL, UNLINK, TIME,
// ZADD, ZSCORE, ZREMRANGEBYSCORE, ZSCAN, ZREM, EXISTS, INCR, EVAL, EVALSHA,
// SCRIPT and PUBLISH, with SUBSCRIBE and PING for the in-process tier, and
// access to the channel "<ns>:invalidate", for example
//
//	user app on >secret ~httpcache:* &* +@all -@dangerous -@admin
//
// URLs are user input: a path reaches the key escaped (%7B for '{'), a key
// holding a brace (from a raw query) or longer than Keys.MaxKeyBytes is hashed,
// so no request picks a cluster slot; keys never reach a glob pattern, so
// Purge("…/a*") removes exactly the entry for "/a*", and PurgeTag("*") the
// entries tagged "*".
//
// # Concurrency
//
// A Cache is safe for concurrent use. Concurrent misses for one key in one
// process call the handler once; the other requests wait (each up to its
// own context) and reuse the response when it is shareable and usable for
// them without validation (reported as collapsed), else call the handler
// themselves.
//
// Across instances (processes sharing a Redis) misses collapse too, unless
// Options.Collapse.Disable: before it calls the handler, a process's leader
// takes a lease on the key (SET NX PX with a random token, the lease memo
// uses), stores the response, then releases the lease (compare-and-delete).
// A leader of another instance that finds the lease taken waits, polling
// the lease at 5 ms doubling to 50 ms; once it is free it serves the stored
// response when usable for its request (collapsed), else takes the lease
// itself. A holder whose response was not stored leaves the mark "pass" in
// the lease for one LeaseTTL: waiters stop waiting and call the handler at
// once, and so do later misses meanwhile. A waiter calls the handler
// itself after Collapse.LeaseWait (default LeaseTTL, 5 s), and when the holder
// dies its lease expires after LeaseTTL, so some other waiter takes over.
// A Redis error while taking or polling the lease is reported and the
// handler called (fail open). The cost is one Redis call before the handler
// on a miss and one after the response was sent; hits pay nothing.
// Requests with no-cache or max-age=0, which could not use another's
// response, skip the lease. Only one background revalidation per entry runs
// at a time in a process, and across instances under the lease, taken
// without waiting.
//
// # In-process tier
//
// With Options.Local.MaxBytes set, each instance also keeps decoded entries
// in memory, at most MaxBytes (bodies, header fields, keys; the least
// recently used go first), and answers hits from there without a Redis
// round trip. It is coherent within a bound: every store, Purge, PurgeTag,
// PurgeAll and invalidation by an unsafe method, by any instance, is
// published on the channel "<ns>:invalidate" after it was made (every
// instance publishes, with the tier or without), and each instance's
// subscription drops what the message names (PurgeAll: everything, and
// the new generation is used at once). Each instance pings on its
// subscription's connection every MaxDelay/4; Redis answers in order, so a
// pong proves that every message published before its ping arrived, and
// the tier answers only until MaxDelay after the last ping whose pong came
// back. Hence the bound: a request that starts more than Local.MaxDelay
// (default 100 ms) after a store or purge returned never gets the replaced
// response from any tier; and while that is not known to hold (no recent
// pong), the tier does not answer and the generation number is reread from
// Redis on every request, so a PurgeAll is never missed either. A subscription that fails or stays silent (no
// pong for 2*MaxDelay plus a second) is replaced; a new subscription
// empties the tier, since messages may have been lost. An entry read from
// Redis is kept only when no invalidation for its key arrived during the
// read. Not covered by the bound: writes to the keys made outside the
// cache, and a failed PUBLISH (reported to OnError; tiers elsewhere then
// keep the replaced response until it is evicted or its Redis TTL ends).
// Entries of the tier are shared by concurrent responses: each response
// gets its own copy of the header fields, the body is written from the
// shared bytes. Close stops the subscription. Stats.LocalHits and
// LocalBytes report the tier. The tier works on a cluster too: messages
// are published on the master of the channel's slot, where every
// subscription is, so the bound holds there as on one server.
//
// # Redis version
//
// The cache uses no command newer than Redis 5 (its scripts read the
// server clock with TIME, which needs script effects replication, the
// default since 5.0); it is tested against Redis 7.0, standalone and
// cluster.
package httpcache
