package httpcache

import (
	"strconv"
	"strings"
)

// Request header fields whose elements carry q-values (RFC 9110 §12.4.2)
// are normalised before Vary matching, so that spellings a server must
// read alike select one variant: elements are compared without
// whitespace, their token (language tag, charset, media range) without
// case, their q-value as a number (q=1 written or not, "0.50" as "0.5"),
// and in any order: preference is what the q-values say (RFC 9110 §12.5.4:
// an order among equal q-values "cannot be relied upon"). Parameters other
// than q are kept as sent. Accept-Encoding is normalised further (see
// normalizeHeaderValue); other fields only lose the whitespace around
// their elements.
var qLists = map[string]bool{"Accept-Language": true, "Accept-Charset": true, "Accept": true}

// normalizeQList returns the elements of a q-valued list as a sorted set.
func normalizeQList(elems []string) string {
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		token, params, _ := strings.Cut(e, ";")
		var b strings.Builder
		b.WriteString(strings.ToLower(strings.TrimSpace(token)))
		q := ""
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(p, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if strings.EqualFold(k, "q") {
				q = normalizeQ(v)
				continue
			}
			if k != "" {
				b.WriteByte(';')
				b.WriteString(strings.ToLower(k))
				b.WriteByte('=')
				b.WriteString(v)
			}
		}
		if q != "" {
			b.WriteString(";q=")
			b.WriteString(q)
		}
		out = append(out, b.String())
	}
	return sortedSet(out)
}

// normalizeQ returns a q-value as the shortest decimal ("" for 1, the
// default); an invalid one is kept lower-cased, so it matches only itself.
func normalizeQ(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 || len(v) > 5 {
		return strings.ToLower(v)
	}
	if f == 1 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
