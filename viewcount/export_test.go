package viewcount

import "github.com/rediskit/rediskit/internal/report"

// ResetDefaultReport gives Counters made from now on a fresh default
// report, so a test of the default log does not depend on what earlier
// tests logged within its one-per-second limit.
func ResetDefaultReport() { defaultOnError = report.Default("viewcount") }
