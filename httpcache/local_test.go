package httpcache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/internal/faultproxy"
	"github.com/rediskit/rediskit/internal/redistest"
)

// versioned answers "v<call number>", cacheable for a minute, tagged t.
func versioned(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Cache-Tag", "t")
		fmt.Fprintf(w, "v%d", n)
	})
}

// localCaches returns n caches with the in-process tier sharing one
// namespace, each on its own client (its own instance), closed at the end.
func localCaches(t *testing.T, tc redistest.Case, n int, lo httpcache.LocalOptions) []*httpcache.Cache {
	t.Helper()
	var cs []*httpcache.Cache
	for range n {
		c := newCache(t, redistest.NewClient(t, tc.Target), tc.Prefix, httpcache.Options{Local: lo}, nil)
		t.Cleanup(func() { _ = c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// A store, purge, tag purge, PurgeAll or unsafe request on one instance is
// seen by every instance within Local.MaxDelay: no request that starts
// later gets the old response from its in-process tier.
func TestLocalCoherence(t *testing.T) {
	t.Parallel()
	const url = "http://example.com/page"
	const bound = 100 * time.Millisecond
	cases := []struct {
		name   string
		change func(t *testing.T, c *httpcache.Cache, h http.Handler)
	}{
		{"store", func(t *testing.T, c *httpcache.Cache, h http.Handler) {
			if w := do(cached(c, h), "GET", url, "Cache-Control: no-cache"); w.Body.String() != "v2" {
				t.Fatalf("refetch: got %q, want v2", w.Body.String())
			}
		}},
		{"purge", func(t *testing.T, c *httpcache.Cache, _ http.Handler) {
			if ok, err := c.Purge(context.Background(), url); !ok || err != nil {
				t.Fatalf("Purge: got (%v, %v), want (true, nil)", ok, err)
			}
		}},
		{"purge tag", func(t *testing.T, c *httpcache.Cache, _ http.Handler) {
			if n, err := c.PurgeTag(context.Background(), "t"); n != 1 || err != nil {
				t.Fatalf("PurgeTag: got (%d, %v), want (1, nil)", n, err)
			}
		}},
		{"purge all", func(t *testing.T, c *httpcache.Cache, _ http.Handler) {
			if err := c.PurgeAll(context.Background()); err != nil {
				t.Fatalf("PurgeAll: got %v", err)
			}
		}},
		{"unsafe request", func(t *testing.T, c *httpcache.Cache, h http.Handler) {
			do(cached(c, h), "POST", url)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redistest.ForEach(t, func(t *testing.T, rc redistest.Case) {
				var calls atomic.Int64
				h := versioned(&calls)
				caches := localCaches(t, rc, 3, httpcache.LocalOptions{MaxBytes: 1 << 20, MaxDelay: bound})
				if w := do(cached(caches[0], h), "GET", url); w.Body.String() != "v1" {
					t.Fatalf("first request: got %q, want v1", w.Body.String())
				}
				for i, c := range caches {
					poll(t, fmt.Sprintf("instance %d answering from its tier", i), func() bool {
						before := c.Stats().LocalHits
						w := do(cached(c, h), "GET", url)
						if w.Body.String() != "v1" {
							t.Fatalf("instance %d warm-up: got %q, want v1", i, w.Body.String())
						}
						return c.Stats().LocalHits > before
					})
				}
				tc.change(t, caches[0], h)
				changed := time.Now()
				for time.Since(changed) < 3*bound {
					for i, c := range caches {
						start := time.Now()
						body := do(cached(c, h), "GET", url).Body.String()
						if body == "v1" && start.Sub(changed) > bound {
							t.Fatalf("instance %d answered the old response %v after the change (bound %v)",
								i, start.Sub(changed), bound)
						}
					}
				}
			})
		})
	}
}

// The tier holds at most Local.MaxBytes, dropping the least recently used
// entries; it still answers the recent ones.
func TestLocalBytesBound(t *testing.T) {
	t.Parallel()
	const maxBytes = 16 << 10
	rc := redistest.Case{Target: redistest.StandaloneTarget(t), Prefix: redistest.Prefix(t)}
	c := localCaches(t, rc, 1, httpcache.LocalOptions{MaxBytes: maxBytes})[0]
	body := strings.Repeat("x", 1<<10)
	h := cached(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(body))
	}))
	poll(t, "the tier answering", func() bool {
		do(h, "GET", "http://example.com/warm")
		return c.Stats().LocalHits > 0
	})
	for i := range 64 {
		url := fmt.Sprintf("http://example.com/%d", i)
		// Stored, then read into the tier (a fill is refused when an
		// invalidation of the key, such as the store's own message, arrives
		// during the read), then answered by it.
		poll(t, "a tier hit for "+url, func() bool {
			before := c.Stats().LocalHits
			do(h, "GET", url)
			return c.Stats().LocalHits > before
		})
		if got := c.Stats().LocalBytes; got > maxBytes {
			t.Fatalf("tier after %d entries: got %d bytes, want at most %d", i+1, got, maxBytes)
		}
	}
	before := c.Stats().LocalHits
	do(h, "GET", "http://example.com/63")
	if c.Stats().LocalHits != before+1 {
		t.Fatalf("most recent entry: got no tier hit, want one")
	}
	if got := c.Stats().LocalBytes; got < maxBytes/2 {
		t.Fatalf("tier: got %d bytes, want it filled close to %d", got, maxBytes)
	}
}

// An instance whose subscription goes silent (Redis unreachable) stops
// answering from its tier within Local.MaxDelay: it could miss
// invalidations. Requests are answered by the handler (fail open).
func TestLocalSilentSubscription(t *testing.T) {
	t.Parallel()
	const bound = 100 * time.Millisecond
	p := faultproxy.New(t, redistest.StandaloneTarget(t).Addrs[0])
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{Timeout: 50 * time.Millisecond,
		Local: httpcache.LocalOptions{MaxBytes: 1 << 20, MaxDelay: bound}}, nil)
	t.Cleanup(func() { _ = c.Close() })
	var calls atomic.Int64
	h := cached(c, versioned(&calls))
	const url = "http://example.com/silent"
	poll(t, "the tier answering", func() bool {
		before := c.Stats().LocalHits
		do(h, "GET", url)
		return c.Stats().LocalHits > before
	})
	p.Blackhole()
	defer p.Restore()
	silent := time.Now()
	for time.Since(silent) < 4*bound {
		start := time.Now()
		before := c.Stats().LocalHits
		if w := do(h, "GET", url); w.Code != http.StatusOK {
			t.Fatalf("with Redis silent: got %d, want 200", w.Code)
		}
		if c.Stats().LocalHits > before && start.Sub(silent) > bound {
			t.Fatalf("tier answered %v after the subscription went silent, want no answer after %v", start.Sub(silent), bound)
		}
	}
}

// A refused PUBLISH (an ACL without it, say) is reported to OnError; the
// response is stored all the same, and a Purge returns the error.
func TestPublishRefused(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("NOPERM publish refused")
	rdb := hookedClient(t, redistest.StandaloneTarget(t), func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		if cmd.Name() == "publish" {
			cmd.SetErr(errRefused)
			return errRefused
		}
		return next(ctx, cmd)
	})
	var reported atomic.Int64
	c := newCache(t, rdb, redistest.Prefix(t), httpcache.Options{OnError: func(_ context.Context, err error) {
		if errors.Is(err, errRefused) {
			reported.Add(1)
		}
	}}, nil)
	var calls atomic.Int64
	h := cached(c, versioned(&calls))
	const url = "http://example.com/refused"
	if cs := do(h, "GET", url).Header().Get("Cache-Status"); !strings.Contains(cs, "stored") || reported.Load() != 1 {
		t.Fatalf("store: got Cache-Status %q and %d reports, want stored and 1", cs, reported.Load())
	}
	if w := do(h, "GET", url); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("second request: got Cache-Status %q, want a hit", w.Header().Get("Cache-Status"))
	}
	if ok, err := c.Purge(context.Background(), url); !ok || !errors.Is(err, errRefused) {
		t.Fatalf("Purge: got (%v, %v), want (true, the refusal)", ok, err)
	}
}
