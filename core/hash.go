package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/redis/go-redis/v9"
)

// HashSet sets field of the hash at key to value (encoded as Encode
// describes) and reports whether the field is new, like the Python hash_set.
func (c *Client) HashSet(ctx context.Context, key, field string, value any) (created bool, err error) {
	data, err := c.encode(ctx, "hash set", key, value, 0)
	if err != nil {
		return false, err
	}
	n, err := c.rdb.HSet(ctx, key, field, data).Result()
	return n == 1, wrap("hash set", key, err)
}

// HashGet reads field of the hash at key into dst and reports whether it
// existed.
func (c *Client) HashGet(ctx context.Context, key, field string, dst any) (bool, error) {
	if err := c.check(ctx, "hash get"); err != nil {
		return false, err
	}
	if err := checkKey("hash get", key); err != nil {
		return false, err
	}
	if dst == nil {
		return false, fmt.Errorf("core: hash get %q: %w: nil destination", key, ErrInvalidArgument)
	}
	data, err := c.rdb.HGet(ctx, key, field).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("hash get", key, err)
	}
	return true, Decode(key+"#"+field, data, dst)
}

// HashGetAll reads every field of the hash at key into dst, which is either a
// pointer to a map with string keys (each value decoded into the map's value
// type; a nil map is allocated) or a pointer to a struct (fields matched by
// their json tag, else their name; unknown hash fields are ignored). It
// reports whether the hash existed.
func (c *Client) HashGetAll(ctx context.Context, key string, dst any) (bool, error) {
	if err := c.check(ctx, "hash get all"); err != nil {
		return false, err
	}
	if err := checkKey("hash get all", key); err != nil {
		return false, err
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() ||
		(rv.Elem().Kind() != reflect.Map && rv.Elem().Kind() != reflect.Struct) ||
		(rv.Elem().Kind() == reflect.Map && rv.Elem().Type().Key().Kind() != reflect.String) {
		return false, fmt.Errorf("core: hash get all %q: %w: destination %T must point to a map[string]T or a struct", key, ErrInvalidArgument, dst)
	}
	fields, err := c.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return false, wrap("hash get all", key, err)
	}
	if len(fields) == 0 {
		return false, nil
	}
	if rv.Elem().Kind() == reflect.Map {
		return true, decodeHashIntoMap(key, fields, rv.Elem())
	}
	return true, decodeHashIntoStruct(key, fields, rv.Elem())
}

func decodeHashIntoMap(key string, fields map[string]string, m reflect.Value) error {
	if m.IsNil() {
		m.Set(reflect.MakeMapWithSize(m.Type(), len(fields)))
	}
	for f, data := range fields {
		v := reflect.New(m.Type().Elem())
		if err := Decode(key+"#"+f, []byte(data), v.Interface()); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(f).Convert(m.Type().Key()), v.Elem())
	}
	return nil
}

func decodeHashIntoStruct(key string, fields map[string]string, s reflect.Value) error {
	t := s.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); tag == "-" {
			continue
		} else if tag != "" {
			name = tag
		}
		data, ok := fields[name]
		if !ok {
			continue
		}
		if err := Decode(key+"#"+name, []byte(data), s.Field(i).Addr().Interface()); err != nil {
			return err
		}
	}
	return nil
}
