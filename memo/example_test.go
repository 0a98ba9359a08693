package memo_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rediskit/rediskit/core"
	"github.com/rediskit/rediskit/internal/redistest"
	"github.com/rediskit/rediskit/memo"
)

// exampleClient returns a core client on an empty Redis of the test harness.
func exampleClient() (*core.Client, func()) {
	rdb, done := redistest.ExampleClient()
	c, err := core.New(core.Config{URL: "redis://" + rdb.Options().Addr})
	if err != nil {
		panic(err)
	}
	return c, func() { _ = c.Close(); done() }
}

type User struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

var ErrNoUser = errors.New("no such user")

// UserRepo memoizes a slow lookup; callers use it as they would the lookup.
type UserRepo struct {
	byID *memo.Func[int, User]
}

func (r *UserRepo) User(ctx context.Context, id int) (User, error) { return r.byID.Get(ctx, id) }

func Example() {
	c, done := exampleClient()
	defer done()
	calls := 0
	load := func(ctx context.Context, id int) (User, error) { // a database query, say
		calls++
		if id != 42 {
			return User{}, ErrNoUser
		}
		return User{ID: id, Name: "Ada"}, nil
	}
	byID, err := memo.Wrap(c, "user", load, memo.Options{TTL: time.Minute, NotFound: ErrNoUser})
	if err != nil {
		panic(err)
	}
	repo := &UserRepo{byID: byID}
	ctx := context.Background()
	for range 3 {
		u, err := repo.User(ctx, 42)
		fmt.Println(u.Name, err)
	}
	_, err = repo.User(ctx, 7)
	fmt.Println(errors.Is(err, ErrNoUser), errors.Is(err, memo.ErrNotFound))
	_, err = repo.User(ctx, 7) // the "not found" is cached too
	fmt.Println(errors.Is(err, ErrNoUser))
	fmt.Println("calls:", calls)
	// Output:
	// Ada <nil>
	// Ada <nil>
	// Ada <nil>
	// true true
	// true
	// calls: 2
}

func ExampleFunc_ForgetAll() {
	c, done := exampleClient()
	defer done()
	calls := 0
	square := memo.MustWrap(c, "square", func(_ context.Context, n int) (int, error) {
		calls++
		return n * n, nil
	}, memo.Options{})
	ctx := context.Background()
	for _, n := range []int{2, 3, 2, 3} {
		_, _ = square.Get(ctx, n)
	}
	fmt.Println("calls before:", calls)
	if err := square.ForgetAll(ctx); err != nil { // O(1): bumps the generation
		panic(err)
	}
	v, _ := square.Get(ctx, 3)
	fmt.Println(v, "calls after:", calls)
	// Output:
	// calls before: 2
	// 9 calls after: 3
}

func ExampleFunc_Stats() {
	c, done := exampleClient()
	defer done()
	double := memo.MustWrap(c, "double", func(_ context.Context, s string) (string, error) {
		return s + s, nil
	}, memo.Options{OnError: func(_ context.Context, err error) { fmt.Println("memo error:", err) }})
	ctx := context.Background()
	for range 3 {
		_, _ = double.Get(ctx, "ab")
	}
	st := double.Stats()
	fmt.Printf("hits=%d misses=%d loads=%d\n", st.Hits, st.Misses, st.Loads)
	// Output:
	// hits=2 misses=1 loads=1
}
