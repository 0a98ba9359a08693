package viewcount_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/budget"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

// Stats counts every view once: recorded, then counted or deduplicated
// (in process or by Redis), bots apart; a buffered Counter's views are
// pending until a flush applies them.
func TestStatsCounters(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, tc redistest.Case, mode viewcount.Mode, ns string) {
		ctx := context.Background()
		c := newCounter(t, tc.RDB, ns, viewcount.Options{Mode: mode, FlushInterval: time.Hour})
		for _, v := range []string{"alice", "alice", "bob"} { // a reload in one batch
			if err := c.Record(ctx, "p", v); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.RecordBot(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		finish(t, c)
		for _, v := range []string{"alice", "carol"} { // a reload across flushes
			if err := c.Record(ctx, "p", v); err != nil {
				t.Fatal(err)
			}
		}
		if mode == viewcount.Buffered {
			if got := c.Stats(); got.Pending != 2 || got.Flushed != 3 {
				t.Errorf("before the second flush: got %+v, want 2 pending, 3 flushed", got)
			}
		}
		finish(t, c)
		want := viewcount.Stats{Recorded: 5, Counted: 3, Deduplicated: 2, Bots: 1}
		if mode == viewcount.Buffered {
			want.Flushed, want.Flushes = 5, 2 // the reload in one batch was never held
		}
		got := c.Stats()
		if mode == viewcount.Buffered && (got.LastFlush.IsZero() || time.Since(got.LastFlush) > time.Minute) {
			t.Errorf("got LastFlush %v, want the last flush's end, just now", got.LastFlush)
		}
		got.LastFlush = time.Time{}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

func TestCountsAndRankedJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    any
		want string
	}{
		{viewcount.Counts{Total: 3, Unique: 2, Today: 1}, `{"total":3,"unique":2,"today":1}`},
		{viewcount.Counts{Total: 3, Unique: 2, Bots: 4, Today: 1, Days: []viewcount.DayCount{{Day: "2025-03-10", Views: 1}}},
			`{"total":3,"unique":2,"bots":4,"today":1,"days":[{"day":"2025-03-10","views":1}]}`},
		{[]viewcount.Ranked{{Item: "post-42", Views: 7}}, `[{"item":"post-42","views":7}]`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil || string(b) != tt.want {
			t.Errorf("got %s, %v, want %s", b, err, tt.want)
		}
	}
}

// Counts(…, 0) reads Today without day buckets; n > 0 returns n of them.
func TestCountsDays(t *testing.T) {
	t.Parallel()
	c := newCounter(t, redistest.Standalone(t), redistest.Prefix(t), viewcount.Options{})
	ctx := context.Background()
	if err := c.Record(ctx, "p", "alice"); err != nil {
		t.Fatal(err)
	}
	if s := counts(t, c, "p", 0); s.Today != 1 || s.Total != 1 || s.Days != nil {
		t.Errorf("days 0: got %+v, want today 1, total 1, no Days", s)
	}
	if s := counts(t, c, "p", 3); s.Today != 1 || len(s.Days) != 3 || s.Days[2].Views != 1 {
		t.Errorf("days 3: got %+v, want 3 days, today last with 1 view", s)
	}
}

// Serve attaches the client's request budget before the handler runs, and
// a route that cannot name the item is reported, once per request that
// would have counted, with its request; a rest wildcard matching nothing
// counts nothing, silently.
func TestServeBudgetAndMissingItem(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reported []string
	c, err := viewcount.New(core.NewFromRedis(redistest.Standalone(t)).WithRequestBudget(time.Minute), viewcount.Options{
		Secret: testSecret, Namespace: redistest.Prefix(t),
		OnError: func(ctx context.Context, err error) {
			mu.Lock()
			defer mu.Unlock()
			if r := core.RequestFromContext(ctx); r != nil {
				reported = append(reported, r.URL.Path+" "+err.Error())
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := viewcount.NewTracker(c, viewcount.TrackerOptions{Item: viewcount.ItemPathValue("slug")})
	if err != nil {
		t.Fatal(err)
	}
	var budgets int
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b := budget.From(r.Context()); b != nil && b.Left() > 50*time.Second {
			budgets++
		}
		if strings.HasSuffix(r.URL.Path, "/missing") {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	counted := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tr.Serve(w, r, next) })
	}
	mux := http.NewServeMux()
	mux.Handle("GET /posts/{slug}", counted(handler))
	mux.Handle("GET /wrong/{id}", counted(handler))
	mux.Handle("GET /files/{slug...}", counted(handler))
	plain := http.NewServeMux()
	plain.Handle("GET /posts/{slug}", handler)
	outside := counted(plain) // wraps the mux: no route pattern yet
	for _, tt := range []struct {
		h    http.Handler
		path string
	}{
		{mux, "/posts/a"}, {mux, "/wrong/b"}, {mux, "/wrong/missing"}, {mux, "/files/"}, {outside, "/posts/c"},
	} {
		r := request(http.MethodGet, tt.path, "203.0.113.7:1", browserUA)
		tt.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if budgets != 5 {
		t.Errorf("handler saw the request budget %d times, want 5", budgets)
	}
	if s := counts(t, c, "a", 1); s.Total != 1 {
		t.Errorf("/posts/a: got total %d, want 1", s.Total)
	}
	want := []string{
		`/wrong/b viewcount: item: ItemPathValue("slug"): route "GET /wrong/{id}" has no wildcard {slug}`,
		`/posts/c viewcount: item: ItemPathValue("slug"): the request has no route pattern: ` +
			`wrap the handler registered for the route, not the ServeMux`,
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(reported, "\n") != strings.Join(want, "\n") {
		t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(reported, "\n"), strings.Join(want, "\n"))
	}
	if s := c.Stats(); s.Errors != 2 || s.Recorded != 1 {
		t.Errorf("Stats: got %+v, want 2 errors, 1 recorded", s)
	}
}

// A Direct record after the handler is bounded by Options.Timeout.
func TestTimeoutBoundsDirectRecord(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := srv.Client(t, nil)
	c := newCounter(t, rdb, redistest.Prefix(t), viewcount.Options{Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if err := c.Record(ctx, "p", "warm"); err != nil { // loads the scripts
		t.Fatal(err)
	}
	// Hold the server for a while: a paused client cannot answer.
	if err := srv.Client(t, nil).Do(ctx, "client", "pause", 1000, "all").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := c.Record(ctx, "p", "alice")
	if took := time.Since(start); err == nil || took > 600*time.Millisecond {
		t.Errorf("Record with Redis paused: got %v after %v, want an error within about 100ms", err, took)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Errorf("got %v, want a timeout", err)
	}
}
