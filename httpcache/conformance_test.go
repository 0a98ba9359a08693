package httpcache_test

import (
	"strconv"
	"testing"

	"github.com/rediskit/rediskit/internal/redistest"
)

// TestConformance plays the cases of the behaviours beyond RFC 9111's
// core (Surrogate-Control, ranges, heuristic freshness, disconnected
// origins, request-header normalisation) like TestRFC, on every topology.
func TestConformance(t *testing.T) {
	var cases []rfcCase
	for _, part := range [][]rfcCase{surrogateCases(), heuristicCases(), rangeCases(), unreachableCases(), normalisationCases()} {
		cases = append(cases, part...)
	}
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		for i, rc := range cases {
			t.Run(rc.name, func(t *testing.T) {
				t.Parallel()
				clk := newClock()
				c := newCache(t, tc.RDB, tc.Prefix+":"+strconv.Itoa(i), rc.opts, clk)
				runSteps(t, c, clk, rc.steps)
			})
		}
	})
}
