package viewcount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rediskit/rediskit/clientip"
)

// ItemFunc names the item a request views; "" means the request is not
// counted.
type ItemFunc func(*http.Request) (string, error)

// VisitorFunc identifies the viewer of a request. It runs before the
// handler, so it may set a cookie on w. "" means no visitor: the request is
// not counted. Whatever it returns is hashed with Options.Secret by Record.
type VisitorFunc func(w http.ResponseWriter, r *http.Request) (string, error)

// BotPolicy says what a Tracker does with views from bots.
type BotPolicy int

const (
	BotsSeparate BotPolicy = iota // count them in the item's bots total (default)
	BotsIgnore                    // do not count them at all
)

// TrackerOptions configures a Tracker. The zero value is valid.
type TrackerOptions struct {
	Item    ItemFunc      // default ItemPath: the URL path
	Visitor VisitorFunc   // default VisitorIP(nil): the TCP peer, no proxy trusted
	IsBot   BotClassifier // default IsBot (DefaultBotPatterns)
	Bots    BotPolicy     // default BotsSeparate
	// Timeout bounds one Record, which runs after the handler under a
	// context that the client going away does not cancel. Default 1 s.
	Timeout time.Duration
	// OnError receives the errors of item and visitor funcs and of Record.
	// Counting never fails a request. Default: LogError, a Warn record
	// through slog.Default() per error. Either way Stats counts them.
	OnError func(*http.Request, error)
}

// Tracker is the HTTP logic of the view-counting middleware, shared by the
// adapters: which requests count, as which item and visitor. It is safe for
// concurrent use. On a Redis error or timeout (bounded by
// TrackerOptions.Timeout) the view is not counted and the request is
// answered as usual; the error goes to OnError and Stats.Errors.
type Tracker struct {
	c        *Counter
	opts     TrackerOptions
	recorded atomic.Int64
	errors   atomic.Int64
}

// TrackerStats are a Tracker's counts since NewTracker.
type TrackerStats struct {
	// Recorded is the views handed to the Counter without error (in
	// Direct mode written to Redis, in Buffered mode queued; repeat views
	// inside the dedup window included).
	Recorded int64
	// Errors is the errors reported to OnError: item or visitor funcs,
	// Record failures (Redis errors, timeouts, a full buffer).
	Errors int64
}

// Stats returns the Tracker's counts; safe to call at any time.
func (t *Tracker) Stats() TrackerStats {
	return TrackerStats{Recorded: t.recorded.Load(), Errors: t.errors.Load()}
}

// NewTracker returns a Tracker recording into c.
func NewTracker(c *Counter, opts TrackerOptions) (*Tracker, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Counter", ErrInvalidOptions)
	}
	if opts.Bots != BotsSeparate && opts.Bots != BotsIgnore {
		return nil, fmt.Errorf("%w: unknown BotPolicy %d", ErrInvalidOptions, opts.Bots)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative Timeout %v", ErrInvalidOptions, opts.Timeout)
	}
	if opts.Item == nil {
		opts.Item = ItemPath
	}
	if opts.Visitor == nil {
		opts.Visitor = VisitorIP(nil)
	}
	if opts.IsBot == nil {
		opts.IsBot = IsBot
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	return &Tracker{c: c, opts: opts}, nil
}

// View is a request's pending view between Begin and Finish. The zero View
// counts nothing.
type View struct {
	item, visitor string
	bot           bool
}

// Begin decides, before the handler runs, whether r may count and as what,
// using Options.Item for the item.
func (t *Tracker) Begin(w http.ResponseWriter, r *http.Request) View {
	if r.Method != http.MethodGet {
		return View{}
	}
	item, err := t.opts.Item(r)
	if err != nil {
		t.report(r, fmt.Errorf("viewcount: item: %w", err))
		return View{}
	}
	return t.BeginItem(w, r, item)
}

// BeginItem is Begin with the item given, for routers that resolve it
// themselves (an Echo route parameter).
func (t *Tracker) BeginItem(w http.ResponseWriter, r *http.Request, item string) View {
	if r.Method != http.MethodGet || item == "" {
		return View{}
	}
	if t.opts.IsBot(r.UserAgent()) {
		if t.opts.Bots == BotsIgnore {
			return View{}
		}
		return View{item: item, bot: true}
	}
	visitor, err := t.opts.Visitor(w, r)
	if err != nil {
		t.report(r, fmt.Errorf("viewcount: visitor: %w", err))
		return View{}
	}
	if visitor == "" {
		return View{}
	}
	return View{item: item, visitor: visitor}
}

// Countable reports whether a response counts as a view: a GET answered
// with a 2xx status.
func Countable(method string, status int) bool {
	return method == http.MethodGet && status >= 200 && status < 300
}

// Finish records v if the response status makes it a view. Errors go to
// OnError; Finish never panics and never fails the request.
func (t *Tracker) Finish(r *http.Request, v View, status int) {
	if v.item == "" || !Countable(r.Method, status) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), t.opts.Timeout)
	defer cancel()
	var err error
	if v.bot {
		err = t.c.RecordBot(ctx, v.item)
	} else {
		err = t.c.Record(ctx, v.item, v.visitor)
	}
	if err != nil {
		t.report(r, err)
		return
	}
	t.recorded.Add(1)
}

// ReportError passes err, met while counting r, to OnError.
func (t *Tracker) ReportError(r *http.Request, err error) { t.report(r, err) }

func (t *Tracker) report(r *http.Request, err error) {
	t.errors.Add(1)
	if f := t.opts.OnError; f != nil {
		f(r, err)
		return
	}
	LogError(r, err)
}

// LogError is the default TrackerOptions.OnError: it logs err through
// slog.Default() at Warn level as "viewcount: view not counted", with the
// request's method and route pattern (never its query, cookies or other
// headers). This package's errors may name the item, which with the default
// ItemPath is the request path; they never name visitor ids.
func LogError(r *http.Request, err error) {
	attrs := []slog.Attr{slog.String("method", r.Method), slog.Any("err", err)}
	if r.Pattern != "" {
		attrs = append(attrs, slog.String("pattern", r.Pattern))
	}
	slog.LogAttrs(r.Context(), slog.LevelWarn, "viewcount: view not counted", attrs...)
}

// ItemPath uses the request's URL path as the item.
func ItemPath(r *http.Request) (string, error) { return r.URL.Path, nil }

// ItemPathValue uses the net/http ServeMux path wildcard name (Go 1.22
// patterns such as "GET /posts/{id}") as the item. The middleware must wrap
// the handler registered for the pattern, not the mux.
func ItemPathValue(name string) ItemFunc {
	return func(r *http.Request) (string, error) { return r.PathValue(name), nil }
}

// VisitorIP identifies visitors by client IP, resolved by res under its
// trusted-proxy rules (nil: the TCP peer) and grouped like clientip.Key
// (IPv6 by /64). The id is "ip:<address>"; Record stores only its HMAC.
func VisitorIP(res *clientip.Resolver) VisitorFunc {
	return func(_ http.ResponseWriter, r *http.Request) (string, error) {
		k, err := res.Key(r)
		if err != nil {
			return "", err
		}
		return "ip:" + k, nil
	}
}

// VisitorUser identifies visitors by an authenticated user id that user
// extracts ("" for anonymous requests). The id is "user:<id>".
func VisitorUser(user func(*http.Request) string) VisitorFunc {
	return func(_ http.ResponseWriter, r *http.Request) (string, error) {
		if u := user(r); u != "" {
			return "user:" + u, nil
		}
		return "", nil
	}
}

// FirstVisitor tries fs in order and returns the first non-empty id, for
// example the user if logged in, else a cookie.
func FirstVisitor(fs ...VisitorFunc) VisitorFunc {
	return func(w http.ResponseWriter, r *http.Request) (string, error) {
		for _, f := range fs {
			if v, err := f(w, r); err != nil || v != "" {
				return v, err
			}
		}
		return "", nil
	}
}

// CookieOptions configures VisitorCookie.
type CookieOptions struct {
	Name     string        // default "vcid"
	MaxAge   time.Duration // default 400 days (the browser maximum)
	Path     string        // default "/"
	Domain   string
	Insecure bool          // omit the Secure attribute (plain-HTTP development only)
	SameSite http.SameSite // default Lax
}

// VisitorCookie identifies visitors by a random id kept in a cookie, set on
// the response when the request has none (or a malformed one). The id is
// "cookie:<value>". The cookie is HttpOnly and, unless Insecure, Secure.
func VisitorCookie(opts CookieOptions) VisitorFunc {
	if opts.Name == "" {
		opts.Name = "vcid"
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 400 * 24 * time.Hour
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.SameSite == 0 {
		opts.SameSite = http.SameSiteLaxMode
	}
	return func(w http.ResponseWriter, r *http.Request) (string, error) {
		if c, err := r.Cookie(opts.Name); err == nil && validCookieID(c.Value) {
			return "cookie:" + c.Value, nil
		}
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		http.SetCookie(w, &http.Cookie{Name: opts.Name, Value: id, Path: opts.Path, Domain: opts.Domain,
			MaxAge: int(opts.MaxAge / time.Second), Secure: !opts.Insecure, HttpOnly: true, SameSite: opts.SameSite})
		return "cookie:" + id, nil
	}
}

func validCookieID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
