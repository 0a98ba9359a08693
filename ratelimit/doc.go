// Package ratelimit limits how often a client may act, with counters in
// Redis shared by every process of a service.
//
// # Limiters
//
// NewFixedWindow, NewGCRA and NewMulti build a *RedisLimiter from one
// Options; it implements Limiter (Allow, AllowN, Peek, Reset), returns a
// Result (Allowed, Limit, Remaining, ResetAfter, RetryAfter), and adds
// Check (the start-up probe) and Stats (counters). It is safe for
// concurrent use, needs no Close and never panics.
//
//   - NewFixedWindow: at most Limit units per Window, windows aligned to the
//     epoch. Exact: with limit L, exactly L requests pass per window however
//     many arrive at once, from however many processes. On a standalone
//     Redis (a *redis.Client), Allow rides a transaction MULTI{INCRBY k n;
//     PEXPIRE k ttl NX; ...}, about 0.5 µs of server time per counter
//     (go-redis' AutoPipeliner cannot batch MULTI); it reads no PTTL: the
//     time to the reset comes from the window arithmetic. AllowN with n > 1
//     and clusters use a Lua script that increments only when the cost
//     fits. A server before Redis 7 is not detected at start: the first
//     batched decision (or Check) finds it, when Redis refuses PEXPIRE NX
//     and discards that transaction unapplied; that decision and every
//     later one then use the script. Either way a counter and its TTL
//     change atomically: no key ever lives without a TTL, and a counter
//     found without one (written by other code) is given one.
//   - NewGCRA: a smooth rate (Limit per Window) with bursts (Burst), the
//     algorithm of github.com/go-redis/redis_rate/v10, with this package's
//     keys and timeouts, in a script of its own that keeps redis_rate's
//     state (each reads the other's keys).
//   - NewMulti: several fixed windows, Options.Policies (say 10 per second
//     and 1,000 per hour), decided all or nothing in one Lua script; a
//     denied request consumes none of them.
//
// # Batches and hot keys
//
// Each decision is one round trip, shared with the limiter's concurrent
// decisions: while one batch is in flight the next one fills (at most 512
// decisions each), and a batch is one transaction (the fixed window's Redis
// 7 path) or one script call deciding all of them (the script path, GCRA,
// Multi). On a cluster a script's keys must share a slot, so a batch is one
// script call per {hash tag}, sent as one pipeline that go-redis splits by
// node: never a CROSSSLOT error. Each caller still waits at most its own
// Timeout (or request budget); a caller who gave up before its batch left
// is not sent, and a batch is bounded by the callers still waiting for it
// (see Failure policy).
//
// Concurrent decisions on one key in one process (a hot key: an API-wide
// or per-tenant limit) coalesce: the transaction increments the counter
// once by the number of its decisions, INCRBY k n, and each caller takes
// its own position from the total (total-n+1 to total, in arrival order),
// exactly the count a separate INCR would have returned it; the scripts
// read the key once, decide the requests in order against the running
// state, and write it once. So the limit stays exact across processes: with
// limit L, exactly L units pass per window, and a batch that crosses the
// limit allows its first callers and denies the rest. The semantics of each
// path are those of a single decision: on the transaction path a denied
// unit is counted too, as a lone INCR counts it (the counter passes the
// limit only once the window is used up, so no allowed unit is lost;
// Remaining reports 0, and the deny cache then keeps this process's later
// requests off Redis until the window ends); the scripts count nothing for
// a denied request. GCRA decides a batch at one instant (Redis' TIME), each
// request in turn against the theoretical arrival time the previous ones
// left, with its own allow or deny, Remaining, RetryAfter and ResetAfter.
//
// A denial that leaves no units is remembered in a local deny cache until
// the window resets (GCRA: until RetryAfter), so an abusive client costs no
// Redis round trip at all; a local denial reports the same Result as the
// one Redis gave (Multi: the denying policy, Remaining 0). The cache is per
// process and holds at most DenyCacheSize keys: Reset clears only the local
// entry.
//
// # Keys
//
// Keys are built with core.MakeKey under Options.Namespace (default
// "ratelimit"); the client's key appears once, wrapped in a {hash tag} so
// all of its counters live in one cluster slot:
//
//	<namespace>:fw:{<key>}:<policy>:<window ms>:<window number>      NewFixedWindow
//	<namespace>:multi:{<key>}:<policy>:<window ms>:<window number>   NewMulti, per policy
//	<namespace>:gcra:{<key>}:<policy>:<window ms>                    NewGCRA
//
// Two limiters of one kind with the same Namespace, policy name and window
// share state: that is how the processes of a service share a limit.
// Limiters meant to be independent, such as per-route limits that use the
// same window, need distinct Policy names (or Namespaces); with the
// default policy name and namespace they would count together.
//
// A key longer than 128 bytes, holding a brace or starting with '#' is
// replaced by '#' and 32 hex digits of its SHA-256 (internal/keypart). The
// window number is Now()/Window; counters expire a second after their window
// ends (sooner for sub-second windows), so process clocks should agree (NTP).
//
// # Failure policy
//
// Each Redis call waits at most Options.Timeout (default 50 ms), or less
// when the ctx carries a request budget that ends sooner (see
// core.Client.WithBudget; a Guard attaches it); go-redis' auto-pipeliner
// ignores per-command contexts, so the bound is enforced by the waiting
// caller. On a timeout or a Redis error a limiter returns the error
// (wrapping ErrTimeout or the Redis error) and Allowed false; it never
// guesses, and it passes the error to Options.OnError (by default a Warn
// record through slog.Default(), at most one a second for the package) and
// counts it in Stats. A Guard then fails open by default (the request
// proceeds) or, with FailClosed, answers 503, never 429; it does not report
// the error again. A timed-out command may still run later; it is never retried
// by this package. A batch (transaction or script call) is bounded by its
// callers: its context ends a tenth of Timeout after the last of them stops waiting, so
// go-redis' retries and backoff during an outage cannot keep the batcher
// busy past it and hold up the decisions that follow (go-redis honours the
// context in socket I/O only with ContextTimeoutEnabled, which core.New
// sets).
//
// With Options.LocalFallback a limiter never means "no limit": when Redis
// fails it decides in memory instead, each process applying the same
// policy on its own to the keys it sees (at most LocalFallbackSize of
// them), and returns that decision with Result.Fallback set and no error;
// a Guard then answers 200 or 429 as usual. Every decision asks Redis
// first, so the limiter hands back to Redis as soon as Redis answers. The
// limit becomes per process: N processes may admit up to N×Limit per
// window during an outage, plus up to Limit in the window in which Redis
// returns (its counters never learn of the local admissions). The failure
// is still reported and counted in Stats.Errors; Stats.Fallback counts the
// local decisions.
//
// A command that counts a hit (the MULTI of the transaction path, the Lua
// scripts' calls) is sent at most once: go-redis' own retries (Options.MaxRetries)
// are disabled for it through Cmder.NoRetry. When a connection is reset
// after Redis applied a hit but before its reply arrived, the decision
// returns an error (the failure policy applies) and that hit stays counted
// once: a retry can never count it twice. Reads (Peek) and Reset are
// retried as usual. MOVED and ASK redirections during a cluster slot
// migration are followed (Redis did not run the command); CLUSTERDOWN, like
// any other Redis error, is returned at once and goes through the failure
// policy.
//
// Under memory pressure with an allkeys-* eviction policy Redis may evict a
// counter: that client's window restarts from zero (fail-open direction:
// it may get up to one extra window's quota). Use noeviction or volatile-*
// (every counter has a TTL) to avoid it; with noeviction a full Redis
// rejects the increment (OOM error), handled like any Redis error.
//
// # Start-up check
//
// Call Check on each limiter at start-up: it runs every command the limiter
// uses (those its Lua scripts call are read from the scripts themselves) on
// probe keys under Namespace and returns an error naming a missing ACL
// permission (Redis' NOPERM text). An ACL user for the limiter needs key
// access to "<namespace>:*" and the commands GET, SET, MGET, DEL, INCRBY,
// PEXPIRE, PTTL, MULTI, EXEC, EVAL, EVALSHA and SCRIPT (GCRA's script also
// calls TIME), for example
//
//	user app on >secret ~ratelimit:* &* +@all -@dangerous -@admin
//
// Ids in keys are user input: an id longer than 128 bytes, holding '{' or
// '}' or starting with '#' is hashed, so it cannot pick another client's slot or grow keys; ids
// never reach a glob pattern.
//
// # HTTP
//
// A Guard (NewGuard(GuardOptions)) is the framework-neutral middleware; its
// Serve(w, r, next) does everything: it attaches the limiter's request
// budget, keys the request (Key: KeyByIP by default; KeyByHeader, a digest
// of the value, never the secret itself; KeyByUser; KeyByRoute; Combine),
// decides it with its Cost (a cost above the limit is a 429 denial, a cost
// below 1 a free request), writes the draft-ietf-httpapi-ratelimit-headers-10
// fields
//
//	RateLimit-Policy: "default";q=100;w=60
//	RateLimit: "default";r=50;t=30
//
// (optionally the legacy X-RateLimit-* trio) and answers: next for an
// allowed request, 429 with Retry-After in whole seconds rounded up for a
// denied one, 403 when the client cannot be identified (ErrNoKey), 503 for
// a limiter failure with FailClosed; the bodies are JSON (or
// problem+json) with Cache-Control: no-store, or what DenyHandler and
// ErrorHandler write. adapters/nethttp and adapters/echo translate it.
//
// # Observability
//
// Stats returns cumulative counters (allowed, denied, denied locally,
// errors, decided by the local fallback). Options.OnDecision receives every decision: key, allowed,
// remaining, error, latency and whether the deny cache answered. Failures
// go to Options.OnError: none is dropped silently.
package ratelimit
