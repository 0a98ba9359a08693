// Command gin is the rediskit example service on Gin (through adapters/gin),
// with the same routes and answers as examples/service and examples/echo:
// memoized and response-cached products, a rate-limited endpoint and
// counted article views, on an embedded Redis unless the environment names
// one (REDIS_URL, REDIS_HOST, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS).
//
//	go run ./examples/gin
//	curl -i 127.0.0.1:8080/products/1
//
// Flags: -addr, -redis (auto, env, embedded), -rate-limit, -rate-window,
// -trusted-proxies, -metrics. SIGINT or SIGTERM shuts it down gracefully,
// flushing buffered view counts.
package main

import (
	"github.com/gin-gonic/gin"

	"github.com/rediskit/rediskit/examples/internal/shop"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	shop.Main("gin", newGin)
}
