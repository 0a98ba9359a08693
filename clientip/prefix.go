package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefixes parses CIDR prefixes ("203.0.113.0/24", "2001:db8::/32") and bare IP addresses, which
// become single-address prefixes (/32 or /128). Host bits are masked off, and IPv4-mapped IPv6 forms are
// converted to IPv4. It reports the first entry that is neither.
func ParsePrefixes(cidrs ...string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// MustParsePrefixes is like ParsePrefixes but panics on bad input. It is meant for configuration at
// construction time, never for values that arrive while serving.
func MustParsePrefixes(cidrs ...string) []netip.Prefix {
	ps, err := ParsePrefixes(cidrs...)
	if err != nil {
		panic(err.Error())
	}
	return ps
}

func parsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q is not an IP address or CIDR prefix", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q is not an IP address or CIDR prefix", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normalizePrefix(p)
}

// normalizePrefix masks p and rewrites an IPv4-mapped prefix as IPv4, since peers and header entries are
// unmapped before they are matched.
func normalizePrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("clientip: invalid trusted proxy prefix %s", p)
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy prefix %s mixes IPv4-mapped and IPv6 addresses; list IPv4 proxies in IPv4 form", p)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
