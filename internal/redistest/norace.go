//go:build !race

package redistest

// Race reports a binary built with the race detector (see race.go).
const Race = false
