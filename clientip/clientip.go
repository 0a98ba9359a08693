package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// The header names a Resolver can read (Options.Header), in any letter case.
const (
	headerXForwardedFor = "X-Forwarded-For" // comma-separated addresses, client first; the default
	headerForwarded     = "Forwarded"       // RFC 7239: the for= parameter of each element
	headerXRealIP       = "X-Real-IP"       // an address set by the proxy; read like X-Forwarded-For
)

// ErrNoClientIP is returned when a request carries no usable peer address: RemoteAddr is empty or is not
// an IP address (a Unix socket, a test request built without one).
var ErrNoClientIP = errors.New("clientip: no client IP in request")

// Bounds on the work done per request; see the package doc.
const (
	maxEntries     = 64
	maxHeaderBytes = 8 << 10
)

// Options configures a Resolver. The zero value trusts no proxy.
type Options struct {
	// TrustedProxies are the peers whose forwarding header is believed, and the hops skipped while walking
	// it. Default: none, so the client is always the TCP peer. List IPv4 proxies in IPv4 form: ::/0 does
	// not cover IPv4 peers, which are matched in unmapped form. Trusting 0.0.0.0/0 or ::/0 lets any
	// client choose its own address.
	TrustedProxies []netip.Prefix

	// Header is the forwarding header to read: "X-Forwarded-For" (default), "Forwarded" or "X-Real-IP".
	Header string
}

type headerKind uint8

const (
	kindList      headerKind = iota // X-Forwarded-For, X-Real-IP: comma-separated addresses
	kindForwarded                   // RFC 7239 Forwarded
)

// Resolver extracts the client IP of requests. The zero value, and a nil *Resolver, trust no proxy: they
// return the RemoteAddr peer and ignore all forwarding headers. A Resolver is immutable after New and safe
// for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  string // canonical header key
	kind    headerKind
}

// New returns a Resolver for opts. It reports an invalid trusted prefix or an unsupported header name.
func New(opts Options) (*Resolver, error) {
	r := &Resolver{header: http.CanonicalHeaderKey(headerXForwardedFor), kind: kindList}
	switch h := opts.Header; {
	case h == "" || strings.EqualFold(h, headerXForwardedFor):
	case strings.EqualFold(h, headerXRealIP):
		r.header = http.CanonicalHeaderKey(headerXRealIP)
	case strings.EqualFold(h, headerForwarded):
		r.header, r.kind = http.CanonicalHeaderKey(headerForwarded), kindForwarded
	default:
		return nil, fmt.Errorf("clientip: unsupported header %q: want %s, %s or %s",
			h, headerXForwardedFor, headerForwarded, headerXRealIP)
	}
	r.trusted = make([]netip.Prefix, 0, len(opts.TrustedProxies))
	for _, p := range opts.TrustedProxies {
		np, err := normalizePrefix(p)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, np)
	}
	return r, nil
}

// ClientIP returns the client address of req: the peer in RemoteAddr, or, when that peer is a trusted
// proxy, the first untrusted address found walking the forwarding header from the right. The result is
// valid, has no zone, and is IPv4 for IPv4-mapped input. It returns ErrNoClientIP (possibly wrapped) when
// RemoteAddr is empty or not an IP address.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, error) {
	if req == nil || req.RemoteAddr == "" {
		return netip.Addr{}, ErrNoClientIP
	}
	peer, ok := parseAddr(strings.TrimSpace(req.RemoteAddr))
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: remote address %q is not an IP address", ErrNoClientIP, req.RemoteAddr)
	}
	if r == nil || !r.isTrusted(peer) {
		return peer, nil
	}
	return r.walk(req.Header.Values(r.header), peer), nil
}

// Key returns GroupKey of the client address, for use as a rate-limit bucket or visitor id. Its signature
// fits a KeyFunc: func(*http.Request) (string, error).
func (r *Resolver) Key(req *http.Request) (string, error) {
	addr, err := r.ClientIP(req)
	if err != nil {
		return "", err
	}
	return GroupKey(addr), nil
}

// GroupKey returns a key for addr: an IPv4 address as is ("192.0.2.1"), an IPv6 address as its /64
// ("2001:db8:1:2::/64"), and an IPv4-mapped IPv6 address as the IPv4 address it carries. Zones are
// ignored. It returns "" for the zero Addr.
func GroupKey(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		return addr.String()
	case addr.Is6():
		p, _ := addr.WithZone("").Prefix(64)
		var buf [48]byte // "ffff:ffff:ffff:ffff::/64" fits: one allocation, for the string
		return string(p.AppendTo(buf[:0]))
	default:
		return ""
	}
}

func (r *Resolver) isTrusted(addr netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// walk reads the header lines from the last entry to the first and returns the first untrusted address.
// An unparseable entry, or reaching a bound, returns the last trusted hop; so does a header of trusted
// hops only, whose leftmost entry is then the last trusted hop.
func (r *Resolver) walk(lines []string, peer netip.Addr) netip.Addr {
	last := peer
	budget, entries := maxHeaderBytes, 0
	for i := len(lines) - 1; i >= 0; i-- {
		line, truncated := lines[i], false
		if len(line) > budget {
			line, truncated = line[len(line)-budget:], true
		}
		budget -= len(line)
		for more := true; more; {
			var entry string
			line, entry, more = cutLast(line, r.kind == kindForwarded)
			if truncated && !more {
				return last // the leftmost piece was cut by the byte bound
			}
			if entry = trimOWS(entry); entry == "" {
				continue
			}
			if entries++; entries > maxEntries {
				return last
			}
			addr, ok := r.parseEntry(entry)
			if !ok {
				return last
			}
			if !r.isTrusted(addr) {
				return addr
			}
			last = addr
		}
	}
	return last
}

func (r *Resolver) parseEntry(entry string) (netip.Addr, bool) {
	if r.kind == kindForwarded {
		v, ok := forwardedFor(entry)
		if !ok {
			return netip.Addr{}, false
		}
		entry = v
	}
	return parseAddr(entry)
}
