package memo

import (
	"encoding/json"
	"reflect"
	"testing"
)

type jsonValue struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	N     int      `json:"n"`
}

// decodeEnvelope is decode's codec step for JSONCodec: the hand-written
// path, else encoding/json.
func decodeEnvelope(data string) (envelope[jsonValue], bool, error) {
	var e envelope[jsonValue]
	if decodeJSON(data, &e) {
		return e, true, nil
	}
	e = envelope[jsonValue]{}
	err := json.Unmarshal([]byte(data), &e)
	return e, false, err
}

// checkDecodeJSON fails unless decoding data through decodeJSON (with the
// fallback) gives what json.Unmarshal alone gives.
func checkDecodeJSON(t *testing.T, data string) (fast bool) {
	t.Helper()
	var want envelope[jsonValue]
	wantErr := json.Unmarshal([]byte(data), &want)
	got, fast, err := decodeEnvelope(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: got error %v, want %v", data, err, wantErr)
	}
	if fast && wantErr != nil {
		t.Fatalf("%q: decodeJSON accepted what json.Unmarshal rejects: %v", data, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %+v, want %+v", data, got, want)
	}
	return fast
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	const times = `{"created":1764243000000,"soft":1764246600000,"hard":1764246660000,"delta_ms":12`
	tests := []struct {
		name string
		data string
		fast bool // decodeJSON decodes it itself
	}{
		{"written by Marshal", mustMarshal(t, envelope[jsonValue]{Created: 1, Soft: 2, Hard: 3, Delta: 4,
			Value: jsonValue{Name: "Ada \"L\" \u00e9", Roles: []string{"a", "b"}, N: -5}}), true},
		{"null value", times + `,"value":null}`, true},
		{"negative times", `{"created":-1,"soft":-0,"hard":0,"delta_ms":-123456789012345678,"value":{}}`, true},
		{"negative entry", mustMarshal(t, envelope[jsonValue]{Created: 1, Soft: 2, Hard: 3, Negative: true, Err: "no"}), false},
		{"value first (older layout)", `{"value":{"name":"x"},"created":1,"soft":2,"hard":3,"delta_ms":0}`, false},
		{"spaces", `{"created": 1,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"space in value", times + `,"value": {"name":"x"} }`, true},
		{"trailing newline", times + `,"value":{}}` + "\n", false},
		{"leading zero", `{"created":01,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"19 digits", `{"created":1234567890123456789,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"overflow", `{"created":99999999999999999999,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"float time", `{"created":1.5,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"missing minus digits", `{"created":-,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"wrong value type", times + `,"value":{"n":"x"}}`, false},
		{"value then garbage", times + `,"value":{"n":1}},"x":{}}`, false},
		{"two values", times + `,"value":{} {}}`, false},
		{"empty value", times + `,"value":}`, false},
		{"unterminated", times + `,"value":{}`, false},
		{"extra field after value", times + `,"value":{},"x":1}`, false},
		{"case-insensitive key", `{"Created":1,"soft":2,"hard":3,"delta_ms":0,"value":{}}`, false},
		{"truncated", times[:20], false},
		{"empty", "", false},
		{"not json", "not json", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if fast := checkDecodeJSON(t, tc.data); fast != tc.fast {
				t.Errorf("%q: decoded by decodeJSON: got %v, want %v", tc.data, fast, tc.fast)
			}
		})
	}
}

// FuzzDecodeJSON checks that decodeJSON never accepts what json.Unmarshal
// rejects and never decodes differently.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"created":1,"soft":2,"hard":3,"delta_ms":4,"value":{"name":"a","roles":["x"],"n":1}}`)
	f.Add(`{"created":1,"soft":2,"hard":3,"delta_ms":4,"negative":true,"error":"no","value":null}`)
	f.Add(`{"value":{},"created":1,"soft":2,"hard":3,"delta_ms":4}`)
	f.Fuzz(func(t *testing.T, data string) { checkDecodeJSON(t, data) })
}

func mustMarshal(t testing.TB, e envelope[jsonValue]) string {
	t.Helper()
	b, err := JSONCodec{}.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkDecodeEnvelope measures what decodeJSON saves on a hit against
// its baseline, json.Unmarshal of the whole envelope.
func BenchmarkDecodeEnvelope(b *testing.B) {
	data := mustMarshal(b, envelope[jsonValue]{Created: 1764243000000, Soft: 1764246600000,
		Hard: 1764246660000, Delta: 12, Value: jsonValue{Name: "Ada Lovelace", Roles: []string{"admin", "editor"}, N: 42}})
	b.Run("impl=json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e envelope[jsonValue]
			if err := json.Unmarshal([]byte(data), &e); err != nil || e.Value.N != 42 {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=decodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e envelope[jsonValue]
			if !decodeJSON(data, &e) || e.Value.N != 42 {
				b.Fatal("decodeJSON rejected its own layout")
			}
		}
	})
}
