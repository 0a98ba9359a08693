package redisconn

import (
	"errors"
	"strings"
	"testing"

	"github.com/rediskit/rediskit/core"
)

func clearRedisEnv(t *testing.T) {
	for _, v := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
		t.Setenv(v, "")
	}
}

func TestProductionWithoutAddressIsAnError(t *testing.T) {
	clearRedisEnv(t)
	for _, env := range []string{"production", " Production "} {
		t.Setenv("ENVIRONMENT", env)
		conn, err := Open(t.Context(), ModeAuto)
		if err == nil {
			conn.Close()
			t.Fatalf("ENVIRONMENT=%q, no address: Open started on %s, want an error", env, conn.Description)
		}
		if !errors.Is(err, core.ErrNoAddress) {
			t.Errorf("ENVIRONMENT=%q: got %v, want core.ErrNoAddress", env, err)
		}
		for _, name := range []string{"ENVIRONMENT", "REDIS_URL", "REDIS_HOST", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
		}
	}
}

func TestLocalWithoutAddressIsEmbedded(t *testing.T) {
	clearRedisEnv(t)
	t.Setenv("ENVIRONMENT", "")
	conn, err := Open(t.Context(), ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !strings.Contains(conn.Description, "embedded") {
		t.Errorf("got %q, want the embedded Redis", conn.Description)
	}
}
