package memo

import (
	"testing"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
)

// L1Client is l1Client, for the external tests.
var L1Client = l1Client

// ReadsInFlight returns how many keys have a shared GET in flight, so that
// tests can wait for one instead of sleeping.
func ReadsInFlight[K comparable, V any](f *Func[K, V]) int {
	f.readsMu.Lock()
	defer f.readsMu.Unlock()
	n := 0
	for _, fl := range f.reads {
		if fl != nil {
			n++
		}
	}
	return n
}

// l1Client returns the standalone test server and a core client with
// client-side caching on it, closed with the test; it skips the test on the
// embedded server, which has no RESP3 tracking.
func l1Client(t *testing.T) (redistest.Target, *core.Client) {
	t.Helper()
	target := redistest.StandaloneTarget(t)
	if target.Embedded {
		t.Skip("client-side caching needs a real redis-server (RESP3 tracking)")
	}
	csc, err := core.New(core.Config{URL: "redis://" + target.Addrs[0], ClientSideCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = csc.Close() })
	return target, csc
}
