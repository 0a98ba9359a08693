package core

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// Encode returns the bytes stored in Redis for v, following the encoding
// contract shared with the Python library: strings and []byte as-is;
// integers, floats and bools as their JSON text; everything else as JSON.
// Values JSON cannot represent (channels, funcs, NaN, ±Inf) are ErrEncode.
func Encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case int32:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(nil, x, 10), nil
	case uint32:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(nil, uint64(x), 10), nil
	case float64:
		return appendFloat(nil, x, 64)
	case float32:
		return appendFloat(nil, float64(x), 32)
	case bool:
		return strconv.AppendBool(nil, x), nil
	case json.RawMessage:
		return x, nil
	case json.Marshaler:
		return marshalJSON(v)
	}
	return encodeReflect(v)
}

// encodeReflect handles named basic types (type Status string) the same way
// as their underlying type, and everything else as JSON.
func encodeReflect(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return []byte(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(nil, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(nil, rv.Uint(), 10), nil
	case reflect.Float32:
		return appendFloat(nil, rv.Float(), 32)
	case reflect.Float64:
		return appendFloat(nil, rv.Float(), 64)
	case reflect.Bool:
		return strconv.AppendBool(nil, rv.Bool()), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes(), nil
		}
	}
	return marshalJSON(v)
}

func marshalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrEncode, v, err)
	}
	return b, nil
}

// appendFloat formats f exactly as encoding/json does (and as Python's
// json.loads reads back): shortest representation, exponent only for very
// large or very small magnitudes.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%w: unsupported float value %v", ErrEncode, f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// Decode decodes data stored under key into dst, which must be a non-nil
// pointer. *string and *[]byte receive the raw bytes; *any receives the JSON
// value, or the raw string when data is not JSON (as Python's get_value
// does); numeric and bool targets parse their text; anything else is
// decoded as JSON. A failure is a *DecodeError naming key.
func Decode(key string, data []byte, dst any) error {
	switch d := dst.(type) {
	case *string:
		*d = string(data)
		return nil
	case *[]byte:
		*d = append((*d)[:0], data...)
		return nil
	case *int64:
		n, err := strconv.ParseInt(string(data), 10, 64)
		if err == nil {
			*d = n
			return nil
		}
	case *int:
		n, err := strconv.ParseInt(string(data), 10, strconv.IntSize)
		if err == nil {
			*d = int(n)
			return nil
		}
	case *float64:
		f, err := strconv.ParseFloat(string(data), 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			*d = f
			return nil
		}
	case *any:
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			*d = string(data)
			return nil
		}
		*d = v
		return nil
	case nil:
		return fmt.Errorf("core: decode %q: %w: nil destination", key, ErrInvalidArgument)
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("core: decode %q: %w: destination %T is not a non-nil pointer", key, ErrInvalidArgument, dst)
	}
	switch rv.Elem().Kind() {
	case reflect.String:
		rv.Elem().SetString(string(data))
		return nil
	case reflect.Slice:
		if rv.Elem().Type().Elem().Kind() == reflect.Uint8 {
			rv.Elem().SetBytes(append([]byte(nil), data...))
			return nil
		}
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return &DecodeError{Key: key, Target: fmt.Sprintf("%T", dst), Err: err}
	}
	return nil
}
