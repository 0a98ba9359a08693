package httpcache_test

import "testing"

// TestConformance plays the cases of the behaviours beyond RFC 9111's
// core (Surrogate-Control, heuristic freshness, ranges, disconnected
// origins, request-header normalisation) like TestRFC, on every topology.
func TestConformance(t *testing.T) {
	var cases []rfcCase
	for _, part := range [][]rfcCase{surrogateCases(), heuristicCases(), rangeCases(), unreachableCases(), normalisationCases()} {
		cases = append(cases, part...)
	}
	runCases(t, cases)
}
