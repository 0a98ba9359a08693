package main

import (
	"net/http"
	"testing"

	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/examples/internal/shoptest"
)

// The fault scenarios of issue 8 run the whole Echo service (memo, rate
// limiter, response cache and buffered view counts) on a dedicated
// redis-server behind a fault-injecting proxy; see package shoptest.

func build(svc *shop.Service) (http.Handler, error) { return newEcho(svc) }

// TestFaultBlackhole is not parallel: it checks for leaked goroutines.
func TestFaultBlackhole(t *testing.T) { shoptest.Blackhole(t, build) }

// TestSoak is not parallel: it measures the heap.
func TestSoak(t *testing.T) { shoptest.Soak(t, build) }

func TestFaultRedisDown(t *testing.T) { shoptest.RedisDown(t, build) }
func TestFaultLatency(t *testing.T)   { shoptest.Latency(t, build) }
func TestFaultRecovery(t *testing.T)  { shoptest.Recovery(t, build) }
func TestFaultMaxMemory(t *testing.T) { shoptest.MaxMemory(t, build) }
