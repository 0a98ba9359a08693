//go:build race

package httpcache_test

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops items at random under it), so allocation bounds are not checked.
const raceEnabled = true
