package viewcount_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/viewcount"
)

func exampleClient() (*core.Client, func()) {
	rdb, done := redistest.ExampleClient()
	return core.NewFromRedis(rdb), done
}

func Example() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	views, err := viewcount.New(c, viewcount.Options{Secret: []byte("a secret of 16+ bytes")})
	if err != nil {
		panic(err)
	}
	for _, visitor := range []string{"alice", "alice", "alice", "bob"} { // alice reloads
		if err := views.Record(ctx, "post-42", visitor); err != nil {
			panic(err)
		}
	}
	_ = views.Record(ctx, "post-7", "carol")
	s, _ := views.Counts(ctx, "post-42", 1)
	fmt.Println("total", s.Total, "unique", s.Unique, "today", s.Today)
	top, _ := views.Top(ctx, 2, 24*time.Hour)
	fmt.Println(top)
	// Output:
	// total 2 unique 2 today 2
	// [{post-42 2} {post-7 1}]
}

func ExampleOptions_buffered() {
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	views, _ := viewcount.New(c, viewcount.Options{Secret: []byte("a secret of 16+ bytes"), Mode: viewcount.Buffered})
	for i := range 1000 {
		_ = views.Record(ctx, "home", fmt.Sprint("visitor-", i%100)) // held in process
	}
	_ = views.Close(ctx) // flushes what is left
	s, _ := views.Counts(ctx, "home", 1)
	fmt.Println("total", s.Total)
	// Output: total 100
}

func ExampleTracker() {
	c, done := exampleClient()
	defer done()
	views, _ := viewcount.New(c, viewcount.Options{Secret: []byte("a secret of 16+ bytes")})
	tr, _ := viewcount.NewTracker(views, viewcount.TrackerOptions{
		Item: viewcount.ItemPathValue("id"),
		Visitor: viewcount.FirstVisitor(
			viewcount.VisitorUser(func(r *http.Request) string { return r.Header.Get("X-User") }),
			viewcount.VisitorCookie(viewcount.CookieOptions{}),
		),
	})
	post := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "post", r.PathValue("id"))
	})
	// What the nethttp and echo adapters do around a route's handler:
	mux := http.NewServeMux()
	mux.HandleFunc("GET /posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		tr.Serve(w, r, post) // may set the visitor cookie; counts a 2xx answer
	})
	r := httptest.NewRequest(http.MethodGet, "/posts/hello", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 Firefox/128.0")
	r.Header.Set("X-User", "42")
	mux.ServeHTTP(httptest.NewRecorder(), r)
	s, _ := views.Counts(context.Background(), "hello", 1)
	fmt.Println("total", s.Total)
	// Output: total 1
}

func ExampleNewBotClassifier() {
	isBot := viewcount.NewBotClassifier(append(viewcount.DefaultBotPatterns, "MyUptimeCheck"))
	fmt.Println(isBot("Mozilla/5.0 (compatible; Googlebot/2.1)"), isBot("myuptimecheck/1.0"), isBot("Mozilla/5.0 Firefox/128.0"))
	// Output: true true false
}
