package nethttp_test

import (
	"strings"
	"testing"

	"github.com/rediskit/rediskit/adapters/nethttp"
)

func TestViewCountPanicsWithoutTracker(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "nethttp:") {
			t.Fatalf("got panic %v, want one prefixed nethttp:", r)
		}
	}()
	nethttp.ViewCount(nil)
}
