package viewcount_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

func request(method, path, remote, ua string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	r.Header.Set("User-Agent", ua)
	return r
}

// serve runs one request through Serve and a handler answering status.
func serve(tr *viewcount.Tracker, r *http.Request, status int) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	tr.Serve(w, r, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	return w
}

func TestTrackerCountsSuccessfulGETs(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{})
		for _, tt := range []struct {
			name, method, ua string
			status           int
			policy           viewcount.BotPolicy
			total, bots      int64
		}{
			{"get 200", http.MethodGet, browserUA, 200, viewcount.BotsSeparate, 1, 0},
			{"get 204", http.MethodGet, browserUA, 204, viewcount.BotsSeparate, 1, 0},
			{"get 404", http.MethodGet, browserUA, 404, viewcount.BotsSeparate, 0, 0},
			{"get 304", http.MethodGet, browserUA, 304, viewcount.BotsSeparate, 0, 0},
			{"post 200", http.MethodPost, browserUA, 200, viewcount.BotsSeparate, 0, 0},
			{"head 200", http.MethodHead, browserUA, 200, viewcount.BotsSeparate, 0, 0},
			{"bot separate", http.MethodGet, "Googlebot/2.1", 200, viewcount.BotsSeparate, 0, 1},
			{"bot ignored", http.MethodGet, "Googlebot/2.1", 200, viewcount.BotsIgnore, 0, 0},
		} {
			tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Bots: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			path := "/" + strings.ReplaceAll(tt.name, " ", "-")
			before := c.Stats()
			serve(tr, request(tt.method, path, "203.0.113.7:1234", tt.ua), tt.status)
			if s := counts(t, c, path, 1); s.Total != tt.total || s.Bots != tt.bots {
				t.Errorf("%s: got total %d bots %d, want %d %d", tt.name, s.Total, s.Bots, tt.total, tt.bots)
			}
			after := c.Stats()
			got := [3]int64{after.Recorded - before.Recorded, after.Bots - before.Bots, after.Errors - before.Errors}
			if want := [3]int64{tt.total, tt.bots, 0}; got != want {
				t.Errorf("%s: Stats recorded, bots, errors: got %v, want %v", tt.name, got, want)
			}
		}
	})
}

func TestVisitorIPUsesTrustedProxiesAndStoresNoIP(t *testing.T) {
	t.Parallel()
	redistest.ForEach(t, func(t *testing.T, tc redistest.Case) {
		ctx := context.Background()
		res, err := clientip.New(clientip.Options{TrustedProxies: clientip.MustParsePrefixes("127.0.0.1/32")})
		if err != nil {
			t.Fatal(err)
		}
		c := newCounter(t, tc.RDB, tc.Prefix, viewcount.Options{})
		tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Visitor: viewcount.VisitorIP(res)})
		if err != nil {
			t.Fatal(err)
		}
		for _, xff := range []string{"203.0.113.7", "203.0.113.8", "198.51.100.9, 203.0.113.7"} {
			r := request(http.MethodGet, "/a", "127.0.0.1:5000", browserUA)
			r.Header.Set("X-Forwarded-For", xff)
			serve(tr, r, 200)
		}
		// Untrusted peer: its header is ignored, the peer is the visitor.
		r := request(http.MethodGet, "/a", "198.51.100.1:5000", browserUA)
		r.Header.Set("X-Forwarded-For", "203.0.113.8")
		serve(tr, r, 200)
		if s := counts(t, c, "/a", 1); s.Total != 3 || s.Unique != 3 {
			t.Fatalf("got total %d unique %d, want 3 3", s.Total, s.Unique)
		}
		keys, err := core.NewFromRedis(tc.RDB).FindKeys(ctx, tc.Prefix+":*", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			dump, _ := tc.RDB.Dump(ctx, k).Result()
			for _, ip := range []string{"203.0.113.7", "203.0.113.8", "198.51.100.1"} {
				if strings.Contains(k, ip) || strings.Contains(dump, ip) {
					t.Fatalf("key %q or its value holds the raw IP %s", k, ip)
				}
			}
		}
	})
}

func TestVisitorCookie(t *testing.T) {
	t.Parallel()
	vf := viewcount.VisitorCookie(viewcount.CookieOptions{})
	w := httptest.NewRecorder()
	id, err := vf(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil || !strings.HasPrefix(id, "cookie:") {
		t.Fatalf("first visit: got %q, %v, want a cookie id", id, err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "vcid" || !cookies[0].HttpOnly || !cookies[0].Secure || cookies[0].MaxAge <= 0 {
		t.Fatalf("got cookies %v, want one HttpOnly Secure vcid", cookies)
	}
	for _, tt := range []struct {
		value string
		same  bool
	}{{cookies[0].Value, true}, {"forged{*}", false}, {"", false}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.value != "" {
			r.AddCookie(&http.Cookie{Name: "vcid", Value: tt.value})
		}
		w := httptest.NewRecorder()
		again, _ := vf(w, r)
		if (again == id) != tt.same || (len(w.Result().Cookies()) == 0) != tt.same {
			t.Errorf("cookie %q: got id %q (first %q) and %d Set-Cookie, want same=%v", tt.value, again, id, len(w.Result().Cookies()), tt.same)
		}
	}
}

func TestFirstVisitorAndErrors(t *testing.T) {
	t.Parallel()
	user := viewcount.VisitorUser(func(r *http.Request) string { return r.Header.Get("X-User") })
	boom := errors.New("boom")
	failing := func(http.ResponseWriter, *http.Request) (string, error) { return "", boom }
	vf := viewcount.FirstVisitor(user, viewcount.VisitorIP(nil))
	r := request(http.MethodGet, "/", "203.0.113.7:1", browserUA)
	if id, _ := vf(nil, r); id != "ip:203.0.113.7" {
		t.Errorf("anonymous: got %q, want ip:203.0.113.7", id)
	}
	r.Header.Set("X-User", "42")
	if id, _ := vf(nil, r); id != "user:42" {
		t.Errorf("logged in: got %q, want user:42", id)
	}
	rdb := redistest.Standalone(t)
	var reported atomic.Int64
	c := newCounter(t, rdb, redistest.Prefix(t), viewcount.Options{Timeout: time.Second,
		OnError: func(ctx context.Context, err error) {
			if errors.Is(err, boom) && core.RequestFromContext(ctx) != nil {
				reported.Add(1)
			}
		}})
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Visitor: failing})
	if err != nil {
		t.Fatal(err)
	}
	serve(tr, r, http.StatusOK)
	if s := counts(t, c, "/", 1); s.Total != 0 {
		t.Errorf("failing visitor func: got total %d, want no view", s.Total)
	}
	if reported.Load() != 1 {
		t.Errorf("got %d errors reported with their request, want 1", reported.Load())
	}
	if got := c.Stats(); got.Errors != 1 || got.Recorded != 0 {
		t.Errorf("Stats: got %+v, want 1 error, nothing recorded", got)
	}
	if _, err := viewcount.NewTracker(nil, viewcount.TrackerOptions{}); !errors.Is(err, viewcount.ErrInvalidOptions) {
		t.Errorf("nil counter: got %v, want ErrInvalidOptions", err)
	}
}

// TestTrackerEarlyHints: an informational status before the final one is
// not the answer; the final status decides (Echo v4's Response does not pass
// 1xx on, so this lives here rather than in the adapter table).
func TestTrackerEarlyHints(t *testing.T) {
	t.Parallel()
	c := newCounter(t, redistest.Standalone(t), redistest.Prefix(t), viewcount.Options{})
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path  string
		final int
		want  int64
	}{{"/hints-404", http.StatusNotFound, 0}, {"/hints-200", http.StatusOK, 1}} {
		tr.Serve(httptest.NewRecorder(), request("GET", tt.path, "203.0.113.7:1", browserUA),
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(tt.final)
			}))
		if s, err := c.Counts(context.Background(), tt.path, 0); err != nil || s.Total != tt.want {
			t.Errorf("%s: got total %d (err %v), want %d", tt.path, s.Total, err, tt.want)
		}
	}
}
