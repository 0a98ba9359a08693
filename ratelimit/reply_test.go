package ratelimit

import (
	"fmt"
	"testing"
)

// The reply of a merged entry gives each of its decisions the reply it
// would have had alone, decided in turn against the running state.
func TestCounterReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []int64 // denied, admitted, counts before
		n     int
		want  [][]int64 // per position: denied, counts after
	}{
		{"all admitted", []int64{0, 3, 4}, 1, [][]int64{{0, 5}, {0, 6}, {0, 7}}},
		{"first two of four", []int64{1, 2, 6}, 2, [][]int64{{0, 8}, {0, 10}, {1, 10}, {1, 10}}},
		{"none, second limit", []int64{2, 0, 3, 9}, 1, [][]int64{{2, 3, 9}, {2, 3, 9}}},
		{"two limits", []int64{2, 1, 3, 8}, 1, [][]int64{{0, 4, 9}, {2, 4, 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for pos, want := range tc.want {
				out := make([]int64, len(tc.entry)-1)
				counterReply(tc.entry, tc.n, pos, out)
				if fmt.Sprint(out) != fmt.Sprint(want) {
					t.Errorf("position %d: got %v, want %v", pos, out, want)
				}
			}
		})
	}
}

// gcraReply matches the step of redis_rate's script, decision after
// decision: burst 4, 4 per second (emission 250ms, values exact in binary),
// a theoretical arrival time 250ms after now, four decisions of cost 1 of
// which the script admitted three (the third reaches the burst exactly).
func TestGCRAReply(t *testing.T) {
	reply := gcraReply(4, 4, 1)
	entry := []int64{3, 250_000_000}
	want := [][]int64{ // allowed, remaining, retry-after µs, reset-after µs
		{1, 2, -1, 500_000},
		{1, 1, -1, 750_000},
		{1, 0, -1, 1_000_000},
		{0, 0, 250_000, 1_000_000},
	}
	for pos, w := range want {
		out := make([]int64, 4)
		reply(entry, 1, pos, out)
		if fmt.Sprint(out) != fmt.Sprint(w) {
			t.Errorf("position %d: got %v, want %v", pos, out, w)
		}
	}
}

// Remaining counts a whole unit left as one despite float error: burst 5,
// 5 per second (emission 200ms, not exact in binary), a TAT at now, five
// decisions of cost 1 all admitted leave 4, 3, 2, 1, 0.
func TestGCRAReplyRemainingNotTruncatedLow(t *testing.T) {
	reply := gcraReply(5, 5, 1)
	entry := []int64{5, 0}
	for pos, want := range []int64{4, 3, 2, 1, 0} {
		out := make([]int64, 4)
		reply(entry, 1, pos, out)
		if out[1] != want {
			t.Errorf("position %d: %d remaining, want %d", pos, out[1], want)
		}
	}
}
