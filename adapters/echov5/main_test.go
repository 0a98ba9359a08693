package echov5adapter_test

import (
	"testing"

	"github.com/rediskit/rediskit/internal/redistest"
)

// TestMain stops the redis-server processes the tests of this package start.
func TestMain(m *testing.M) { redistest.Main(m) }
