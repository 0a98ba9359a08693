package core_test

import (
	"encoding/json"
	"testing"

	"github.com/rediskit/rediskit/core"
)

// BenchmarkEncode compares the codec with encoding/json on the value kinds the
// encoding contract treats specially; Redis round trips are benchmarked
// against raw go-redis in the bench module.
func BenchmarkEncode(b *testing.B) {
	values := []struct {
		name string
		v    any
	}{
		{"string", "noah"},
		{"int", 123456},
		{"float", 3.25},
		{"struct", user{Name: "Noah", Age: 21}},
	}
	for _, tc := range values {
		b.Run(tc.name+"/impl=core", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := core.Encode(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/impl=json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"name":"Noah","age":21}`)
	b.Run("struct/impl=core", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u user
			if err := core.Decode("k", data, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct/impl=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u user
			if err := json.Unmarshal(data, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("int64/impl=core", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n int64
			if err := core.Decode("k", []byte("123456"), &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("int64/impl=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n int64
			if err := json.Unmarshal([]byte("123456"), &n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
