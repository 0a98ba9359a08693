// Package clientip finds the client IP address of an HTTP request that may have passed through reverse
// proxies, for use as a rate-limit bucket key or a visitor id.
//
// A forwarding header (X-Forwarded-For, X-Real-IP or RFC 7239 Forwarded) is believed only when the TCP
// peer (Request.RemoteAddr) is a configured trusted proxy, and then only as far as the chain of trusted
// proxies reaches: the header is read from the right, where each proxy appends the address it saw, past
// every trusted hop, and the first untrusted address is the client. Whatever lies to the left of it was
// written by the client itself and is ignored, so a client cannot pick its own bucket or visitor id by
// sending a forged header. An entry that cannot be parsed ("unknown", an obfuscated identifier, garbage)
// ends the walk at the last trusted hop, the nearest address that can be vouched for: the result is always
// the peer or an address a trusted proxy wrote, never one the client made up.
//
// The work per request is bounded: at most the last 64 entries and the last 8 KiB of the header are
// examined. A walk that reaches either bound while still on trusted hops stops at the last trusted hop, as
// for an unparseable entry.
//
// Addresses are normalized: a port and an IPv6 zone are dropped, and an IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is treated as the IPv4 address it carries, both when matching trusted proxies and in
// results. Key and GroupKey group IPv6 clients by /64, the block a single subscriber usually holds, so one
// host cannot escape a rate limit by rotating through its own addresses.
package clientip
