// Command echo is the rediskit example service on Echo v5 (through
// adapters/echov5), with the same routes and answers as examples/service:
// memoized and response-cached products, a rate-limited endpoint and
// counted article views, on an embedded Redis unless the environment names
// one (REDIS_URL, REDIS_HOST, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS).
//
//	go run ./examples/echo
//	curl -i 127.0.0.1:8080/products/1
//
// Flags: -addr, -redis (auto, env, embedded), -rate-limit, -rate-window,
// -trusted-proxies, -metrics. SIGINT or SIGTERM shuts it down gracefully,
// flushing buffered view counts.
package main

import "github.com/rediskit/rediskit/examples/internal/shop"

func main() {
	shop.Main("echo", newEcho)
}
