package clientip

import (
	"net/netip"
	"strings"
)

// maxAddrLen bounds the text handed to the netip parsers: the longest bracketed IPv6 address with a zone
// and a port is well below it.
const maxAddrLen = 128

// parseAddr parses an address as found in RemoteAddr or a forwarding header entry: a bare IP, an IP with
// a port ("192.0.2.1:80", "[2001:db8::1]:80") or a bracketed IPv6 address ("[2001:db8::1]"). The zone is
// dropped and an IPv4-mapped address is unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" || len(s) > maxAddrLen {
		return netip.Addr{}, false
	}
	var (
		a   netip.Addr
		err error
	)
	// Pick the one form that can match, so that valid input never takes a failing parse (which allocates).
	switch {
	case s[0] == '[' && s[len(s)-1] == ']':
		if a, err = netip.ParseAddr(s[1 : len(s)-1]); err == nil && !a.Is6() {
			return netip.Addr{}, false
		}
	case s[0] == '[' || strings.Count(s, ":") == 1: // "[v6]:port" or "v4:port"
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a = ap.Addr()
	default: // bare IPv4 or IPv6
		a, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// cutLast splits s at its last separating comma into the text before it and the entry after it; more
// reports whether there was a comma. With quoted set, commas inside double quotes do not separate
// (RFC 7239). Scanning from the right keeps entries appended by trusted proxies intact even when the
// client's part of the header has an unbalanced quote.
func cutLast(s string, quoted bool) (rest, entry string, more bool) {
	if !quoted {
		if i := strings.LastIndexByte(s, ','); i >= 0 {
			return s[:i], s[i+1:], true
		}
		return "", s, false
	}
	inQuote := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return s[:i], s[i+1:], true
			}
		}
	}
	return "", s, false
}

// forwardedFor returns the value of the for= parameter of one RFC 7239 forwarded-element, unquoted. An
// element without exactly one for= parameter, or with a backslash (quoted-pair: no address needs one) is
// rejected.
func forwardedFor(elem string) (string, bool) {
	if strings.IndexByte(elem, '\\') >= 0 {
		return "", false
	}
	var val string
	found := false
	for elem != "" {
		var pair string
		pair, elem = cutFirstUnquoted(elem, ';')
		if pair = trimOWS(pair); pair == "" {
			continue
		}
		name, v, ok := strings.Cut(pair, "=")
		if !ok {
			return "", false
		}
		if !strings.EqualFold(trimOWS(name), "for") {
			continue
		}
		if found {
			return "", false
		}
		found = true
		v = trimOWS(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if strings.IndexByte(v, '"') >= 0 {
			return "", false
		}
		val = v
	}
	return val, found
}

// cutFirstUnquoted splits s at the first sep outside double quotes.
func cutFirstUnquoted(s string, sep byte) (before, after string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case sep:
			if !inQuote {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// trimOWS trims HTTP optional whitespace (spaces and tabs).
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
