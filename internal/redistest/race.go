//go:build race

package redistest

// Race reports a binary built with the race detector, which changes
// allocation counts (sync.Pool drops items at random under it): tests that
// bound allocations skip the bound then.
const Race = true
