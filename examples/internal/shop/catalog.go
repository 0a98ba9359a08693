// Package shop is the small domain the example services share: a product
// catalog whose loads are slow and counted (so memoization shows), articles
// whose views are counted, and the rediskit features wired around them. The
// net/http, Echo and Gin services only add routing on top.
package shop

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoProduct is returned for an unknown product id.
var ErrNoProduct = errors.New("shop: no such product")

// Product is what GET /products/{id} returns.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

// Catalog is an in-memory product store standing in for a database: every
// Load takes Delay and is counted. Safe for concurrent use.
type Catalog struct {
	delay    time.Duration
	loads    atomic.Int64
	mu       sync.RWMutex
	products map[string]Product
}

// NewCatalog returns a catalog with a few products whose loads take delay.
func NewCatalog(delay time.Duration) *Catalog {
	c := &Catalog{delay: delay, products: map[string]Product{}}
	for _, p := range []Product{
		{ID: "1", Name: "Espresso cup", PriceCents: 900},
		{ID: "2", Name: "Pour-over kettle", PriceCents: 4500},
		{ID: "3", Name: "Hand grinder", PriceCents: 7900},
	} {
		c.products[p.ID] = p
	}
	return c
}

// Load returns the product with id after the simulated delay, or
// ErrNoProduct. It honours ctx.
func (c *Catalog) Load(ctx context.Context, id string) (Product, error) {
	c.loads.Add(1)
	t := time.NewTimer(c.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return Product{}, ctx.Err()
	case <-t.C:
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.products[id]
	if !ok {
		return Product{}, ErrNoProduct
	}
	return p, nil
}

// Put stores p (create or update).
func (c *Catalog) Put(p Product) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.products[p.ID] = p
}

// Loads is how many times Load ran.
func (c *Catalog) Loads() int64 { return c.loads.Load() }

// Article is what GET /articles/{slug} returns.
type Article struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

var articles = map[string]Article{
	"hello-redis":   {Slug: "hello-redis", Title: "Hello, Redis", Body: "Counting views without one command per view."},
	"rate-limits":   {Slug: "rate-limits", Title: "Rate limits done right", Body: "INCR and EXPIRE, atomically."},
	"cache-control": {Slug: "cache-control", Title: "Cache-Control in practice", Body: "Freshness, validation and Vary."},
}

// ArticleBySlug returns the article with slug.
func ArticleBySlug(slug string) (Article, bool) {
	a, ok := articles[slug]
	return a, ok
}

// ArticleSlugs lists every article, sorted.
func ArticleSlugs() []string {
	out := make([]string, 0, len(articles))
	for s := range articles {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
