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
	"github.com/rediskit/rediskit/internal/call"
)

// Counter records item views in Redis. It is safe for concurrent use. On a
// Redis error or timeout (Options.Timeout), Direct mode returns the error
// from Record and the view is not counted (fail open: nothing blocks beyond
// the bound); Buffered mode keeps the batch, reports the failure to OnError
// and retries it at the next flush, dropping views past MaxPending
// (reported to OnDrop).
type Counter struct {
	c      *core.Client
	rdb    redis.UniversalClient
	direct bool // go-redis honours ctx deadlines (call.Honoured)
	opts   Options
	keys   keys
	stats  counters
	obs    core.Observer // nil: no flush spans
	wait   call.Wait     // nil: Redis waits not reported

	waitArgs *waitArgs // nil without WaitReplicas
	buf      *buffer   // nil in Direct mode
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
	vc := &Counter{c: c, rdb: c.Redis(), opts: o, keys: keys{ns: o.Namespace},
		obs: c.Observer(), wait: call.Observe(c.Observer(), "viewcount")}
	vc.stats.lastFlush.Store(time.Now().UnixNano())
	vc.direct = call.Honoured(vc.rdb)
	if o.WaitReplicas > 0 {
		vc.waitArgs = &waitArgs{replicas: o.WaitReplicas, timeout: o.WaitTimeout}
	}
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
	counted, err := c.recordDirect(ctx, item, hex.EncodeToString(d[:]))
	if err != nil {
		return err
	}
	c.stats.recorded.Add(1)
	if counted {
		c.stats.counted.Add(1)
	} else {
		c.stats.deduplicated.Add(1)
	}
	return nil
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
	key := c.keys.item(item).bots()
	_, err := call.Do(ctx, c.opts.Timeout, c.wait, c.direct, func(ctx context.Context) (int64, error) {
		cmd := redis.NewIntCmd(ctx, "incrby", key, 1)
		return cmd.Val(), c.rdb.Process(ctx, call.NoRetry{Cmder: cmd}) // counted at most once
	})
	if err != nil {
		return fmt.Errorf("viewcount: record bot %q: %w", item, err)
	}
	c.stats.bots.Add(1)
	return nil
}

// recordDirect sends one view as one pipeline: the item script alone on a
// standalone server; on a cluster, the item script and the ranking script,
// which live in different slots, together. It reports whether the view
// counted (false: a repeat inside the dedup window).
func (c *Counter) recordDirect(ctx context.Context, item, vis string) (bool, error) {
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
	_, err := call.Do(ctx, c.opts.Timeout, c.wait, c.direct, func(ctx context.Context) (int, error) {
		n, err, _ := runScripts(ctx, c.rdb, calls, nil)
		return n, err
	})
	if err != nil {
		return false, fmt.Errorf("viewcount: record %q: %w", item, err)
	}
	n, _ := main.cmd.Int64() // 1: counted, 0: a repeat
	return n == 1, nil
}

// DayCount is the views of one day.
type DayCount struct {
	Day   string `json:"day"` // "2006-01-02" in Options.Location
	Views int64  `json:"views"`
}

// Counts are the counts of one item, as Counts reads them. They encode to
// JSON as {"total":…,"unique":…,"bots":…,"today":…,"days":[{"day":…,"views":…}]},
// without "bots" when zero and without "days" when none were asked for.
type Counts struct {
	Total  int64      `json:"total"`          // views counted since the first (dedup applied)
	Unique int64      `json:"unique"`         // distinct visitors, HyperLogLog estimate (0.81% standard error)
	Bots   int64      `json:"bots,omitempty"` // crawler views (RecordBot)
	Today  int64      `json:"today"`          // views of the current day
	Days   []DayCount `json:"days,omitempty"` // the last n days, oldest first, today last
}

// Counts reads the counts of item and its last days day buckets (today
// included; 0: Days is empty, Today is still read) in one round trip.
// Views a Buffered Counter has not flushed yet are not included.
func (c *Counter) Counts(ctx context.Context, item string, days int) (Counts, error) {
	if err := checkItem(item); err != nil {
		return Counts{}, err
	}
	maxDays := int(c.opts.Retention / (24 * time.Hour))
	if days < 0 || days > maxDays {
		return Counts{}, fmt.Errorf("viewcount: counts: days %d outside 0..%d (Retention)", days, maxDays)
	}
	if ctx == nil {
		return Counts{}, fmt.Errorf("viewcount: counts: %w", core.ErrNilContext)
	}
	read := max(days, 1) // today's bucket is read either way
	ik := c.keys.item(item)
	today := c.opts.Now().In(c.opts.Location)
	dayNames := make([]string, read)
	dayKeys := make([]string, read)
	for i := range read {
		dayNames[i] = today.AddDate(0, 0, i-read+1).Format(time.DateOnly)
		dayKeys[i] = ik.day(dayNames[i])
	}
	var total, bots *redis.StringCmd
	var uniq *redis.IntCmd
	var daysCmd *redis.SliceCmd
	_, err := call.Do(ctx, c.opts.Timeout, c.wait, c.direct, func(ctx context.Context) ([]redis.Cmder, error) {
		return c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			total, bots = p.Get(ctx, ik.total()), p.Get(ctx, ik.bots())
			uniq = p.PFCount(ctx, ik.unique())
			daysCmd = p.MGet(ctx, dayKeys...) // one slot: the item's tag
			return nil
		})
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Counts{}, fmt.Errorf("viewcount: counts %q: %w", item, err)
	}
	// Pipelined reports only the first failed command, often a redis.Nil of
	// a missing key: check every command so no other error becomes a zero.
	var s Counts
	if s.Total, err = intOrZero(total); err == nil {
		s.Bots, err = intOrZero(bots)
	}
	if err == nil {
		s.Unique, err = uniq.Result()
	}
	if err == nil {
		err = daysCmd.Err()
	}
	all := make([]DayCount, read)
	for i, v := range daysCmd.Val() {
		all[i].Day = dayNames[i]
		if str, ok := v.(string); ok && err == nil {
			all[i].Views, err = strconv.ParseInt(str, 10, 64)
		}
	}
	if err != nil {
		return Counts{}, fmt.Errorf("viewcount: counts %q: %w", item, err)
	}
	s.Today = all[read-1].Views
	if days > 0 {
		s.Days = all
	}
	return s, nil
}

func intOrZero(cmd *redis.StringCmd) (int64, error) {
	n, err := cmd.Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Ranked is one entry of a Top list; it encodes to JSON as
// {"item":…,"views":…}.
type Ranked struct {
	Item  string `json:"item"`
	Views int64  `json:"views"`
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
	if ctx == nil {
		return nil, fmt.Errorf("viewcount: top: %w", core.ErrNilContext)
	}
	key := c.keys.rank(period, c.bucketsAt(c.opts.Now()).rank[idx])
	zs, err := call.Do(ctx, c.opts.Timeout, c.wait, c.direct, func(ctx context.Context) ([]redis.Z, error) {
		return c.rdb.ZRevRangeWithScores(ctx, key, 0, int64(n-1)).Result()
	})
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
// OnDrop and OnError, and the error returned. Close returns soon after ctx
// is done even when Redis does not answer: a flush still waiting for Redis
// then (a socket read cannot be interrupted; it ends at its own deadline)
// keeps its views and reports those it fails to send (OnDrop, OnError) when
// it returns, after Close; Close's error counts them. Record after Close
// returns ErrClosed. Close does not close the core.Client. It is
// idempotent: later calls return nil at once.
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
		// The flush reports its own Redis wait (and its errors to OnError;
		// what failed is kept for retry).
		ctx, cancel := call.Context(stop, max(c.opts.FlushInterval, 5*time.Second), nil)
		_ = c.buf.flush(ctx)
		cancel()
	}
}
