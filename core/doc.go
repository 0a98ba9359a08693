// Package core is rediskit's typed Redis client: the API of the Python
// reusables.redis library on top of go-redis, working the same on a
// standalone server, Sentinel and Redis Cluster.
//
// A Client wraps a redis.UniversalClient. Build one from a Config (New), from
// the environment (Default, ConfigFromEnv), or around a client you already
// have (NewFromRedis). A Client is safe for concurrent use.
//
// # Encoding
//
// Values are stored so that the Python library and Go read each other's keys:
// strings and []byte as-is; integers, floats and bools as their JSON text (so
// INCR works on them and Python's json.loads reads them); everything else as
// JSON. Reading into *string or *[]byte returns the raw bytes; into anything
// else decodes JSON. A stored value that cannot be decoded into the target is
// a *DecodeError naming the key, never a silent zero.
//
// # Keys and patterns
//
// MakeKey builds namespaced keys ("service:part:part"). Pattern operations
// (FindKeys, InvalidatePattern, PurgeCache) SCAN every master and stream page
// by page; KEYS, FLUSHDB and FLUSHALL are never used. User input placed in a
// pattern must go through EscapeGlob (InvalidatePrefix does it for you), so an
// id of "*" cannot widen an invalidation.
//
// # Errors
//
// Every error is wrapped with the "core:" prefix and the operation; sentinel
// errors (ErrNotFound, ErrInvalidKey, ErrClosed, ...) work with errors.Is.
// redis.Nil never reaches the caller: a missing key is (false, nil) or
// ErrNotFound. Redis failures (down, slow, cancelled context) are returned,
// never swallowed.
package core
