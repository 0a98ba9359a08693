package main

import (
	"net/http/httptest"
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/examples/internal/shop"
	"github.com/rediskit/rediskit/examples/internal/shoptest"
	"github.com/rediskit/rediskit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRoutes walks every route of the net/http service on real Redis,
// standalone and cluster.
func TestRoutes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		svc, err := shop.New(core.NewFromRedis(tc.RDB), shoptest.Config(tc.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Check(t.Context()); err != nil {
			t.Fatalf("start-up check: %v", err)
		}
		handler, err := newHandler(svc)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(handler)
		defer srv.Close()
		defer svc.Close(t.Context())
		shoptest.Walk(t, srv.URL)
	})
}
