package redistest

import (
	"testing"
	"time"
)

// Eventually calls cond every few milliseconds until it reports true, and
// fails t (naming what) if within passes first. It is the one bounded poll
// of the test suites: a condition that never holds fails the test in
// within, never hangs it until the test binary's timeout.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
