package main

import (
	"testing"

	"github.com/rediskit/rediskit/examples/internal/shoptest"
)

// The fault scenarios of issue 8 run the whole net/http service (memo, rate
// limiter, response cache and buffered view counts) on a dedicated
// redis-server behind a fault-injecting proxy; see package shoptest.

// TestFaultBlackhole is not parallel: it checks for leaked goroutines.
func TestFaultBlackhole(t *testing.T) { shoptest.Blackhole(t, newHandler) }

// TestSoak is not parallel: it measures the heap.
func TestSoak(t *testing.T) { shoptest.Soak(t, newHandler) }

func TestFaultRedisDown(t *testing.T) { shoptest.RedisDown(t, newHandler) }
func TestFaultLatency(t *testing.T)   { shoptest.Latency(t, newHandler) }
func TestFaultRecovery(t *testing.T)  { shoptest.Recovery(t, newHandler) }
func TestFaultMaxMemory(t *testing.T) { shoptest.MaxMemory(t, newHandler) }
