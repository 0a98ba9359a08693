// Package rediskit is a toolkit of Redis-backed building blocks for Go HTTP
// services, tested against real redis-server processes, standalone and Redis
// Cluster alike. The module root holds only this overview; the packages are:
//
//   - core: the typed client. JSON get/set with TTL, bulk operations
//     grouped by cluster slot, cache helpers, glob-safe find and invalidate,
//     counters (including an atomic windowed counter), hashes and key
//     namespacing, configured from the environment or a Config. It carries
//     the API of the Python reusables.redis library.
//   - memo: memo.Wrap turns a slow function into a read-through cached one,
//     with singleflight, a cross-process lease, probabilistic early refresh,
//     stale-while-revalidate and stale-if-error, and an O(1) ForgetAll.
//   - ratelimit: exact fixed-window, GCRA and multi-limit limiters decided
//     in one round trip, with the IETF RateLimit headers.
//   - httpcache: an RFC 9111 shared response cache in Redis.
//   - viewcount: view counters with dedup, unique visitors, day buckets,
//     top-N and buffered flushing.
//   - clientip: the client IP of a request, trusting X-Forwarded-For only
//     from configured proxies (shared by ratelimit and viewcount).
//   - adapters/nethttp and adapters/echo: the middleware for net/http and
//     Echo v4.
//
// The features share one vocabulary: Options.Namespace (key prefix),
// Options.Timeout (one Redis call), Options.OnError (a core.ErrorHandler;
// by default a rate-limited slog record), Stats() (counters), Check(ctx)
// (the start-up permission probe, derived from the Lua scripts a feature
// runs) and Serve(w, r, next) (the framework-neutral middleware the
// adapters translate). All the Redis calls of one request share one budget
// (core.Config.RequestBudget, 500 ms by default).
//
// Every feature states its failure policy (fail open or closed when Redis is
// down or slow) and reports errors through hooks; none panics on a request.
// The examples directory holds runnable services: go run ./examples/service.
package rediskit
