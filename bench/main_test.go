// Package bench holds rediskit's benchmarks against raw go-redis and peer
// libraries, on real redis-server processes started by internal/redistest.
// See README.md for how to run them and compare with benchstat.
package bench

import (
	"testing"

	"github.com/rediskit/rediskit/internal/redistest"
)

// TestMain starts no server itself: redistest starts them on first use and
// stops them, removing their files, when the benchmarks end.
func TestMain(m *testing.M) { redistest.Main(m) }
