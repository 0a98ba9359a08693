package viewcount

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rediskit/rediskit/clientip"
	"github.com/rediskit/rediskit/internal/report"
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

// TrackerOptions configures a Tracker. The zero value is valid. The
// Counter's Options.Timeout bounds each record and its OnError receives
// the Tracker's failures.
type TrackerOptions struct {
	Item    ItemFunc      // default ItemPath: the URL path
	Visitor VisitorFunc   // default VisitorIP(nil): the TCP peer, no proxy trusted
	IsBot   BotClassifier // default NewBotClassifier(DefaultBotPatterns)
	Bots    BotPolicy     // default BotsSeparate
}

// Tracker is the HTTP logic of view counting, framework-neutral: Serve
// decides which requests count, as which item and visitor, and records
// them into its Counter; the adapters (nethttp.ViewCount,
// echoadapter.ViewCount) only call Serve. It is safe for concurrent use.
// Counting never fails a request: on a Redis error or timeout the view is
// not counted, the request is answered as usual, and the error goes to the
// Counter's OnError (counted in its Stats().Errors).
type Tracker struct {
	c    *Counter
	opts TrackerOptions
}

var defaultIsBot = NewBotClassifier(DefaultBotPatterns)

// NewTracker returns a Tracker recording into c.
func NewTracker(c *Counter, opts TrackerOptions) (*Tracker, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Counter", ErrInvalidOptions)
	}
	if opts.Bots != BotsSeparate && opts.Bots != BotsIgnore {
		return nil, fmt.Errorf("%w: unknown BotPolicy %d", ErrInvalidOptions, opts.Bots)
	}
	if opts.Item == nil {
		opts.Item = ItemPath
	}
	if opts.Visitor == nil {
		opts.Visitor = VisitorIP(nil)
	}
	if opts.IsBot == nil {
		opts.IsBot = defaultIsBot
	}
	return &Tracker{c: c, opts: opts}, nil
}

// Serve runs next for r and counts the request as a view when it is a GET
// that next answered with a 2xx status. It first attaches the Counter's
// request budget to r's context (core.Client.WithBudget; next gets the
// request carrying it), then decides, before next runs, the item
// (TrackerOptions.Item) and, for a visitor that is not a bot, the visitor
// (TrackerOptions.Visitor, which may set a cookie on w). The view is
// recorded after next returns, under r's context without its cancellation,
// so a client going away does not undo it. A Direct record waits at most
// Options.Timeout and what is left of the request budget: once the
// request's Redis calls have used up the budget the view is not counted
// (the timeout goes to OnError); the handler's own time does not count. A Buffered record does not wait for Redis.
//
// An item or visitor func error is reported to OnError and the request is
// not counted. An ItemPathValue that finds no value because the route has
// no such wildcard, or because Serve runs before routing (r.Pattern is
// empty: the middleware wraps the ServeMux, not a route's handler), is
// reported for each request it would have counted: never silently nothing.
func (t *Tracker) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if ctx := t.c.c.WithBudget(r.Context()); ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	v, missing := t.begin(w, r)
	if v.item == "" && missing == nil {
		next.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	if status < 200 || status > 299 {
		return
	}
	if missing != nil {
		t.c.report(report.WithRequest(r.Context(), r), missing)
		return
	}
	t.finish(r, v)
}

// view is a request's pending view between begin and finish. The zero view
// counts nothing.
type view struct {
	item, visitor string
	bot           bool
}

// begin decides, before the handler runs, whether r may count and as what.
// missing is an ItemPathValue error, reported only if the request turns
// out to be a view.
func (t *Tracker) begin(w http.ResponseWriter, r *http.Request) (v view, missing error) {
	if r.Method != http.MethodGet {
		return view{}, nil
	}
	item, err := t.opts.Item(r)
	var pv *pathValueError
	switch {
	case errors.As(err, &pv):
		return view{}, fmt.Errorf("viewcount: item: %w", err)
	case err != nil:
		t.c.report(report.WithRequest(r.Context(), r), fmt.Errorf("viewcount: item: %w", err))
		return view{}, nil
	case item == "":
		return view{}, nil
	}
	if t.opts.IsBot(r.UserAgent()) {
		if t.opts.Bots == BotsIgnore {
			return view{}, nil
		}
		return view{item: item, bot: true}, nil
	}
	visitor, err := t.opts.Visitor(w, r)
	if err != nil {
		t.c.report(report.WithRequest(r.Context(), r), fmt.Errorf("viewcount: visitor: %w", err))
		return view{}, nil
	}
	if visitor == "" {
		return view{}, nil
	}
	return view{item: item, visitor: visitor}, nil
}

// finish records v; its error goes to OnError.
func (t *Tracker) finish(r *http.Request, v view) {
	ctx := r.Context()
	if t.c.buf == nil { // a Redis call: the client going away must not cancel it
		ctx = context.WithoutCancel(ctx)
	}
	var err error
	if v.bot {
		err = t.c.RecordBot(ctx, v.item)
	} else {
		err = t.c.Record(ctx, v.item, v.visitor)
	}
	if err != nil {
		t.c.report(report.WithRequest(ctx, r), err)
	}
}

// statusWriter remembers the status the handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through to the underlying writer when it can flush.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ItemPath uses the request's URL path as the item.
func ItemPath(r *http.Request) (string, error) { return r.URL.Path, nil }

// ItemPathValue uses the path wildcard name (net/http ServeMux patterns
// such as "GET /posts/{id}"; under Echo, route parameters such as
// "/posts/:id", which the echo adapter copies into the request) as the
// item. The middleware must wrap the handler registered for the route, not
// the mux: a request that has no route pattern, or whose route has no such
// wildcard, is reported to OnError when it would have counted (see
// Tracker.Serve). A "{name...}" wildcard matching nothing counts nothing.
func ItemPathValue(name string) ItemFunc {
	return func(r *http.Request) (string, error) {
		if v := r.PathValue(name); v != "" {
			return v, nil
		}
		if r.Pattern != "" && (strings.Contains(r.Pattern, "{"+name+"...}") || name == "*" && strings.HasSuffix(r.Pattern, "*")) {
			return "", nil // a rest wildcard matching nothing
		}
		return "", &pathValueError{name: name, pattern: r.Pattern}
	}
}

// pathValueError is ItemPathValue finding no value to count.
type pathValueError struct{ name, pattern string }

func (e *pathValueError) Error() string {
	if e.pattern == "" {
		return fmt.Sprintf("ItemPathValue(%q): the request has no route pattern: wrap the handler "+
			"registered for the route, not the ServeMux", e.name)
	}
	return fmt.Sprintf("ItemPathValue(%q): route %q has no wildcard {%s}", e.name, e.pattern, e.name)
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
