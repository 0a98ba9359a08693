package memo

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/keypart"
)

// maxKeyLen is the longest key part stored as is; longer parts, parts
// starting with '#' and parts holding '{' or '}' (which would form a Redis
// Cluster hash tag, letting the key's text pick its slot) are replaced by '#'
// and 32 hex digits of their SHA-256 (keypart.Encode).
const maxKeyLen = 128

// keyFunc returns the function turning a K into the key part of its entry:
// custom when set (WrapKey), else the default for K's kind. It rejects key
// types whose default rendering would not be stable across processes
// (pointers, channels, interfaces, structs holding them).
func keyFunc[K comparable](custom func(K) string) (func(K) (string, error), error) {
	if custom != nil {
		return func(k K) (string, error) {
			s := custom(k)
			if s == "" {
				return "", fmt.Errorf("memo: key function returned an empty key: %w", core.ErrInvalidKey)
			}
			return shorten(s), nil
		}, nil
	}
	t := reflect.TypeFor[K]()
	if !stableType(t, true, 0) {
		return nil, fmt.Errorf("%w: key type %v holds pointers, channels or interfaces, whose text is not stable across processes; use WrapKey", ErrInvalidOptions, t)
	}
	return func(k K) (string, error) { return defaultKey(k), nil }, nil
}

// defaultKey renders basic types with strconv (strings as is) and hashes
// everything else's Go-syntax representation (%#v, which includes unexported
// fields and type names, so distinct values of a struct key never collide).
func defaultKey[K comparable](k K) string {
	switch v := any(k).(type) {
	case string:
		return shorten(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	rv := reflect.ValueOf(any(k)) // valid: keyFunc rejects interface types
	switch rv.Kind() {
	case reflect.String:
		return shorten(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	}
	return hashKey(fmt.Sprintf("%#v", k))
}

// appendIntKey appends defaultKey(k) to dst when K is one of the integer
// types defaultKey renders with strconv, and reports whether it did. Get
// builds such keys in one allocation.
func appendIntKey[K comparable](dst []byte, k K) ([]byte, bool) {
	switch v := any(k).(type) {
	case int:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int64:
		return strconv.AppendInt(dst, v, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), true
	case uint64:
		return strconv.AppendUint(dst, v, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), true
	}
	return dst, false
}

// shorten keeps a short key part as is and hashes a long one, an empty
// one, one that could be mistaken for a hash, or one holding a brace: entry
// keys use no hash tag, and a key's text must never make one.
func shorten(s string) string { return keypart.Encode(s, maxKeyLen) }

// hashKey always hashes s: '#' and 32 hex digits of its SHA-256.
func hashKey(s string) string { return keypart.Encode(s, 0) }

// stableType reports whether %#v of a value of type t is the same in every
// process: no pointers, channels, maps, funcs or unsafe pointers inside, and
// no interfaces, which may hold any of those at run time. A GoString method
// makes a type stable where fmt can call it (methods is false inside
// unexported fields, which fmt prints raw).
func stableType(t reflect.Type, methods bool, depth int) bool {
	if depth > 32 {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Chan, reflect.Func, reflect.Map, reflect.Slice,
		reflect.Interface:
		return false
	case reflect.Array:
		return stableType(t.Elem(), methods, depth+1)
	case reflect.Struct:
		if _, ok := t.MethodByName("GoString"); ok && methods {
			return true // e.g. time.Time renders as time.Date(...)
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !stableType(f.Type, methods && f.IsExported(), depth+1) {
				return false
			}
		}
	}
	return true
}

// entryKey is "<ns>:<name>:g<gen>:<key>"; leaseKey is
// "<ns>:<name>:lease:g<gen>:<key>".
func (f *Func[K, V]) entryKey(gen int64, part string) string {
	return f.genPrefix(gen) + part
}

// genKeyPrefix is "<ns>:<name>:g<gen>:", formatted once per generation.
type genKeyPrefix struct {
	gen    int64
	prefix string
}

func (f *Func[K, V]) genPrefix(gen int64) string {
	if p := f.prefix.Load(); p != nil && p.gen == gen {
		return p.prefix
	}
	p := &genKeyPrefix{gen: gen, prefix: f.base + "g" + strconv.FormatInt(gen, 36) + ":"}
	f.prefix.Store(p)
	return p.prefix
}

func (f *Func[K, V]) leaseKey(entryKey string) string {
	return f.leaseBase + entryKey[len(f.base):]
}
