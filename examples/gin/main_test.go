package main

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/examples/internal/shoptest"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug route listing in the test output
	redistest.Main(m)
}

// TestRoutes walks every route of the Gin service on real Redis,
// standalone and cluster.
func TestRoutes(t *testing.T) { shoptest.Routes(t, newGin) }

// TestFaults runs the fault scenarios of issue 8: the whole Gin service
// (memo, rate limiter, response cache and buffered view counts) on a
// dedicated redis-server behind a fault-injecting proxy. Not parallel: some
// scenarios check the process's goroutines and heap.
func TestFaults(t *testing.T) { shoptest.Faults(t, newGin) }

// TestMetrics scrapes the -metrics endpoint after a scripted sequence of
// requests and checks exact counter values.
func TestMetrics(t *testing.T) { shoptest.Metrics(t, newGin) }
