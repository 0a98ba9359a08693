package memo

import "encoding/json"

// decodeJSON is the hit path of JSONCodec: it decodes an entry in exactly
// the layout json.Marshal gives a positive envelope,
//
//	{"created":N,"soft":N,"hard":N,"delta_ms":N,"value":…}
//
// reading the four times by hand and handing only the value's bytes to
// json.Unmarshal, so that a hit costs about what decoding V alone does. It
// reports false for anything else (negative entries, other field orders or
// spacing, out-of-range numbers, a value json.Unmarshal rejects), leaving e
// partly written; the caller then resets e and decodes the whole entry with
// json.Unmarshal, which decides. So both paths accept exactly the same
// entries with the same result.
func decodeJSON[V any](data string, e *envelope[V]) bool {
	rest, ok := data, true
	if e.Created, rest, ok = jsonInt(rest, `{"created":`); !ok {
		return false
	}
	if e.Soft, rest, ok = jsonInt(rest, `,"soft":`); !ok {
		return false
	}
	if e.Hard, rest, ok = jsonInt(rest, `,"hard":`); !ok {
		return false
	}
	if e.Delta, rest, ok = jsonInt(rest, `,"delta_ms":`); !ok {
		return false
	}
	const value = `,"value":`
	if len(rest) < len(value)+2 || rest[:len(value)] != value || rest[len(rest)-1] != '}' {
		return false
	}
	return json.Unmarshal([]byte(rest[len(value):len(rest)-1]), &e.Value) == nil
}

// jsonInt parses prefix followed by an integer as json.Marshal writes one
// (optional minus, no leading zeros), of at most 18 digits so that it
// cannot overflow.
func jsonInt(s, prefix string) (n int64, rest string, ok bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return 0, "", false
	}
	s = s[len(prefix):]
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || (s[0] == '0' && i > 1) {
		return 0, "", false
	}
	for _, c := range []byte(s[:i]) {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}
