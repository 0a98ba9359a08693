package ginadapter_test

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/internal/redistest"
)

// TestMain stops the redis-server processes the tests of this package start.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	redistest.Main(m)
}
