package nethttp_test

import (
	"strings"
	"testing"

	"github.com/rediskit/rediskit/adapters/nethttp"
)

func TestHTTPCacheNilPanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.HasPrefix(p.(string), "nethttp:") {
			t.Errorf("nil cache: got panic %v, want one prefixed nethttp:", p)
		}
	}()
	nethttp.HTTPCache(nil)
}
