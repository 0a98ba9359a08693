package main

import (
	"testing"

	"github.com/rediskit/rediskit/examples/internal/shoptest"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRoutes walks every route of the Echo service on real Redis,
// standalone and cluster.
func TestRoutes(t *testing.T) { shoptest.Routes(t, newEcho) }

// TestFaults runs the fault scenarios of issue 8: the whole Echo service
// (memo, rate limiter, response cache and buffered view counts) on a
// dedicated redis-server behind a fault-injecting proxy. Not parallel: some
// scenarios check the process's goroutines and heap.
func TestFaults(t *testing.T) { shoptest.Faults(t, newEcho) }

// TestMetrics scrapes the -metrics endpoint after a scripted sequence of
// requests and checks exact counter values.
func TestMetrics(t *testing.T) { shoptest.Metrics(t, newEcho) }
