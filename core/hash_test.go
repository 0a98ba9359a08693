package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestHashes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		c := core.NewFromRedis(tc.RDB)
		key := core.MakeKey(tc.Prefix, "user", "123", "profile")
		type settings struct {
			Theme string `json:"theme"`
		}
		type profile struct {
			Name     string   `json:"name"`
			Age      int      `json:"age"`
			Settings settings `json:"settings"`
			Ignored  string   `json:"-"`
		}
		fields := []struct {
			field   string
			value   any
			created bool
		}{
			{"name", "Noah", true}, {"age", 21, true}, {"settings", settings{"dark"}, true}, {"age", 22, false},
		}
		for _, f := range fields {
			created, err := c.HashSet(ctx, key, f.field, f.value)
			if err != nil || created != f.created {
				t.Errorf("HashSet(%s): got %v, %v, want %v, nil", f.field, created, err, f.created)
			}
		}
		var age int
		if found, err := c.HashGet(ctx, key, "age", &age); !found || err != nil || age != 22 {
			t.Errorf("HashGet(age): got %v, %v, %d, want 22", found, err, age)
		}
		var nope string
		if found, err := c.HashGet(ctx, key, "nope", &nope); found || err != nil {
			t.Errorf("HashGet(missing field): got %v, %v, want false, nil", found, err)
		}
		var p profile
		if found, err := c.HashGetAll(ctx, key, &p); !found || err != nil || p.Name != "Noah" || p.Age != 22 || p.Settings.Theme != "dark" {
			t.Errorf("HashGetAll(struct): got %v, %v, %+v", found, err, p)
		}
		var m map[string]any
		if found, err := c.HashGetAll(ctx, key, &m); !found || err != nil || m["name"] != "Noah" || m["age"] != float64(22) {
			t.Errorf("HashGetAll(map): got %v, %v, %#v", found, err, m)
		}
		var empty map[string]string
		if found, err := c.HashGetAll(ctx, core.MakeKey(tc.Prefix, "none"), &empty); found || err != nil {
			t.Errorf("HashGetAll(missing): got %v, %v, want false, nil", found, err)
		}
		var wrong map[string]int
		if _, err := c.HashGetAll(ctx, key, &wrong); !errors.Is(err, core.ErrDecode) {
			t.Errorf("HashGetAll into map[string]int: got %v, want ErrDecode", err)
		}
		if _, err := c.HashGetAll(ctx, key, p); !errors.Is(err, core.ErrInvalidArgument) {
			t.Errorf("HashGetAll into a non-pointer: got %v, want ErrInvalidArgument", err)
		}
	})
}
