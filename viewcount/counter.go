package viewcount

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rediskit/rediskit/core"
)

// Counter records item views in Redis. It is safe for concurrent use. On a
// Redis error or timeout, Direct mode returns the error from Record and the
// view is not counted (fail open: nothing blocks beyond ctx); Buffered mode
// keeps the batch, reports the failure to OnFlush and retries it at the
// next flush, dropping views past MaxPending (reported to OnDrop).
type Counter struct {
	c    *core.Client
	rdb  redis.UniversalClient
	opts Options
	keys keys

	buf      *buffer // nil in Direct mode
	closed   atomic.Bool
	stopLoop context.CancelFunc // ends the flush loop and its flush in progress
	loopDone chan struct{}
}

// New returns a Counter storing views through c. A Buffered Counter starts a
// goroutine that flushes every FlushInterval until Close.
func New(c *core.Client, opts Options) (*Counter, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil core.Client", ErrInvalidOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	vc := &Counter{c: c, rdb: c.Redis(), opts: o, keys: keys{ns: o.Namespace}}
	if o.Mode == Buffered {
		vc.buf = newBuffer(vc)
		var loopCtx context.Context
		loopCtx, vc.stopLoop = context.WithCancel(context.Background())
		vc.loopDone = make(chan struct{})
		go vc.flushLoop(loopCtx)
	}
	return vc, nil
}

// Record counts one view of item by visitor. visitor is any stable id of
// the viewer (see the Visitor funcs); only its HMAC digest reaches Redis.
// A repeat view inside the dedup window counts nothing.
//
// Direct mode: one round trip (see the package doc); a Redis failure is
// returned and the view is not counted. Buffered mode: no network; the view
// is counted at the next flush. ErrBufferFull reports a dropped view.
func (c *Counter) Record(ctx context.Context, item, visitor string) error {
	if err := checkItem(item); err != nil {
		return err
	}
	if err := checkVisitor(visitor); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	d := digest(c.opts.Secret, visitor)
	if c.buf != nil {
		return c.buf.add(item, d, false)
	}
	if ctx == nil {
		return fmt.Errorf("viewcount: record: %w", core.ErrNilContext)
	}
	return c.recordDirect(ctx, item, hex.EncodeToString(d[:]))
}

// RecordBot counts one view of item by a crawler in the item's separate bots
// total. Bot views never touch totals, uniques, days or rankings.
func (c *Counter) RecordBot(ctx context.Context, item string) error {
	if err := checkItem(item); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	if c.buf != nil {
		return c.buf.add(item, [16]byte{}, true)
	}
	if ctx == nil {
		return fmt.Errorf("viewcount: record bot: %w", core.ErrNilContext)
	}
	cmd := redis.NewIntCmd(ctx, "incrby", c.keys.item(item).bots(), 1)
	if err := c.rdb.Process(ctx, noRetry{cmd}); err != nil { // counted at most once
		return fmt.Errorf("viewcount: record bot %q: %w", item, err)
	}
	return nil
}

// recordDirect sends one view as one pipeline: the item script alone on a
// standalone server; on a cluster, the item script and the ranking script,
// which live in different slots, together.
func (c *Counter) recordDirect(ctx context.Context, item, vis string) error {
	now := c.opts.Now()
	b := c.bucketsAt(now)
	ik := c.keys.item(item)
	win := strconv.FormatInt(c.opts.DedupWindow.Milliseconds(), 10)
	// With dedup on, a resent view is a repeat (SET NX) and counts nothing;
	// with it off, a resend would count twice, so it is sent at most once.
	once := c.opts.DedupWindow == 0
	main := &scriptCall{script: directScript, once: once,
		keys: []string{ik.seen(vis), ik.total(), ik.unique(), ik.day(b.day)},
		args: []any{win, vis, int64(c.opts.Retention / time.Second), item}}
	calls := []*scriptCall{main}
	rank := main
	if c.c.IsCluster() && len(c.opts.Periods) > 0 {
		rank = &scriptCall{script: rankScript, once: once, keys: []string{c.keys.rankSeen(item, vis)}, args: []any{win, item}}
		calls = append(calls, rank)
	}
	for i, p := range c.opts.Periods {
		rank.keys = append(rank.keys, c.keys.rank(p, b.rank[i]))
		rank.args = append(rank.args, rankTTL(p)) // the TTL of that key
	}
	if _, err := runScripts(ctx, c.rdb, calls); err != nil {
		return fmt.Errorf("viewcount: record %q: %w", item, err)
	}
	return nil
}

// DayCount is the views of one day.
type DayCount struct {
	Day   string // "2006-01-02" in Options.Location
	Views int64
}

// Stats are the counts of one item.
type Stats struct {
	Total  int64      // views counted since the first (dedup applied)
	Unique int64      // distinct visitors, HyperLogLog estimate (0.81% standard error)
	Bots   int64      // crawler views (RecordBot)
	Today  int64      // views of the current day
	Days   []DayCount // the last n days, oldest first, today last
}

// Stats reads the counts of item and its last days day buckets (today
// included; 0 means 1) in one round trip. Views a Buffered Counter has not
// flushed yet are not included.
func (c *Counter) Stats(ctx context.Context, item string, days int) (Stats, error) {
	if err := checkItem(item); err != nil {
		return Stats{}, err
	}
	maxDays := int(c.opts.Retention / (24 * time.Hour))
	if days < 0 || days > maxDays {
		return Stats{}, fmt.Errorf("viewcount: stats: days %d outside 0..%d (Retention)", days, maxDays)
	}
	days = max(days, 1)
	ik := c.keys.item(item)
	today := c.opts.Now().In(c.opts.Location)
	dayNames := make([]string, days)
	dayKeys := make([]string, days)
	for i := range days {
		dayNames[i] = today.AddDate(0, 0, i-days+1).Format(time.DateOnly)
		dayKeys[i] = ik.day(dayNames[i])
	}
	var total, bots *redis.StringCmd
	var uniq *redis.IntCmd
	var daysCmd *redis.SliceCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		total, bots = p.Get(ctx, ik.total()), p.Get(ctx, ik.bots())
		uniq = p.PFCount(ctx, ik.unique())
		daysCmd = p.MGet(ctx, dayKeys...) // one slot: the item's tag
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, fmt.Errorf("viewcount: stats %q: %w", item, err)
	}
	// Pipelined reports only the first failed command, often a redis.Nil of
	// a missing key: check every command so no other error becomes a zero.
	s := Stats{Days: make([]DayCount, days)}
	if s.Total, err = intOrZero(total); err == nil {
		s.Bots, err = intOrZero(bots)
	}
	if err == nil {
		s.Unique, err = uniq.Result()
	}
	if err == nil {
		err = daysCmd.Err()
	}
	for i, v := range daysCmd.Val() {
		s.Days[i].Day = dayNames[i]
		if str, ok := v.(string); ok && err == nil {
			s.Days[i].Views, err = strconv.ParseInt(str, 10, 64)
		}
	}
	if err != nil {
		return Stats{}, fmt.Errorf("viewcount: stats %q: %w", item, err)
	}
	s.Today = s.Days[days-1].Views
	return s, nil
}

func intOrZero(cmd *redis.StringCmd) (int64, error) {
	n, err := cmd.Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Ranked is one entry of a Top list.
type Ranked struct {
	Item  string
	Views int64
}

// Top returns the n most viewed items of the current bucket of period (one
// of Options.Periods), most viewed first, in one read: a fixed bucket, not a
// sliding window, so just after a bucket starts it holds few views. Buckets
// are aligned to multiples of the period since the Unix epoch, in UTC
// whatever Options.Location says (whole hours and UTC days for 1h and 24h;
// 7-day buckets start on Thursdays). Each bucket's TTL is two periods from
// its last increment, so it expires one to two periods after it ends.
func (c *Counter) Top(ctx context.Context, n int, period time.Duration) ([]Ranked, error) {
	if n <= 0 {
		return nil, fmt.Errorf("%w: Top n must be positive, got %d", ErrInvalidOptions, n)
	}
	idx := -1
	for i, p := range c.opts.Periods {
		if p == period {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: %v (have %v)", ErrUnknownPeriod, period, c.opts.Periods)
	}
	key := c.keys.rank(period, c.bucketsAt(c.opts.Now()).rank[idx])
	zs, err := c.rdb.ZRevRangeWithScores(ctx, key, 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("viewcount: top %v: %w", period, err)
	}
	out := make([]Ranked, len(zs))
	for i, z := range zs {
		out[i] = Ranked{Item: fmt.Sprint(z.Member), Views: int64(z.Score)}
	}
	return out, nil
}

// Flush sends the views a Buffered Counter holds now, retrying batches that
// failed before; it returns nil at once in Direct mode.
func (c *Counter) Flush(ctx context.Context) error {
	if c.buf == nil {
		return nil
	}
	return c.buf.flush(ctx)
}

// Close stops a Buffered Counter's flush loop and flushes what is left,
// retrying until ctx is done; views still unsent then are reported to
// OnDrop and the error returned. Close returns soon after ctx is done even
// when Redis does not answer: a flush still waiting for Redis then (a
// socket read cannot be interrupted; it ends at its own deadline) keeps
// its views and reports those it fails to send to OnDrop when it returns,
// after Close; Close's error counts them. Record after Close returns
// ErrClosed. Close does not close the core.Client. It is idempotent: later
// calls return nil at once.
func (c *Counter) Close(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("viewcount: close: %w", core.ErrNilContext)
	}
	if c.closed.Swap(true) || c.buf == nil {
		return nil
	}
	c.buf.markClosed()
	c.stopLoop() // no retry of the loop's flush in progress
	select {
	case <-c.loopDone:
	case <-ctx.Done(): // the loop's flush is still in a Redis call: close hands over to it
	}
	return c.buf.close(ctx)
}

// flushLoop flushes every FlushInterval until stop is cancelled.
func (c *Counter) flushLoop(stop context.Context) {
	defer close(c.loopDone)
	t := time.NewTicker(c.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		if stop.Err() != nil { // both were ready: Close does the last flush
			return
		}
		ctx, cancel := context.WithTimeout(stop, max(c.opts.FlushInterval, 5*time.Second))
		_ = c.buf.flush(ctx) // reported through OnFlush; kept for retry
		cancel()
	}
}
