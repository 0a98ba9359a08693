package rediskitotel

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rediskit/rediskit/httpcache"
	"github.com/rediskit/rediskit/memo"
	"github.com/rediskit/rediskit/ratelimit"
	"github.com/rediskit/rediskit/viewcount"
)

// entry is one registered feature: its name attribute and its Stats.
type entry[S any] struct {
	name  string
	attrs metric.ObserveOption
	stats func() S
}

type registry struct {
	memo      []entry[memo.Stats]
	ratelimit []entry[ratelimit.Stats]
	httpcache []entry[httpcache.Stats]
	viewcount []entry[viewcount.Stats]
}

// add appends (name, stats) to list unless name is taken.
func add[S any](i *Instrumentation, list *[]entry[S], kind, name string, stats func() S) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, e := range *list {
		if e.name == name {
			return fmt.Errorf("rediskitotel: %s %q registered twice", kind, name)
		}
	}
	*list = append(*list, entry[S]{name: name,
		attrs: metric.WithAttributeSet(attribute.NewSet(attrName.String(name))), stats: stats})
	return nil
}

// Memo exports the Stats of a memo.Func (any K, V) under the attribute
// rediskit.name = name. A name may be registered once per kind.
func (i *Instrumentation) Memo(name string, f interface{ Stats() memo.Stats }) error {
	return add(i, &i.feats.memo, "memo", name, f.Stats)
}

// RateLimit exports the Stats of a limiter (a *ratelimit.RedisLimiter)
// under rediskit.name = name.
func (i *Instrumentation) RateLimit(name string, l interface{ Stats() ratelimit.Stats }) error {
	return add(i, &i.feats.ratelimit, "ratelimit", name, l.Stats)
}

// HTTPCache exports the Stats of an httpcache.Cache under
// rediskit.name = name.
func (i *Instrumentation) HTTPCache(name string, c interface{ Stats() httpcache.Stats }) error {
	return add(i, &i.feats.httpcache, "httpcache", name, c.Stats)
}

// ViewCount exports the Stats of a viewcount.Counter under
// rediskit.name = name.
func (i *Instrumentation) ViewCount(name string, c interface{ Stats() viewcount.Stats }) error {
	return add(i, &i.feats.viewcount, "viewcount", name, c.Stats)
}

// counterSpec declares one observable counter read from a Stats field.
type counterSpec[S any] struct {
	name, unit, desc string
	read             func(S) int64
}

var memoCounters = []counterSpec[memo.Stats]{
	{"rediskit.memo.hits", "{hit}", "Fresh entries served (memo.Stats.Hits).", func(s memo.Stats) int64 { return s.Hits }},
	{"rediskit.memo.misses", "{miss}", "Reads that found no servable entry (memo.Stats.Misses).", func(s memo.Stats) int64 { return s.Misses }},
	{"rediskit.memo.stale", "{hit}", "Stale entries served (memo.Stats.StaleServed).", func(s memo.Stats) int64 { return s.StaleServed }},
	{"rediskit.memo.loads", "{call}", "Calls of the wrapped function (memo.Stats.Loads).", func(s memo.Stats) int64 { return s.Loads }},
	{"rediskit.memo.errors", "{error}", "Failed or timed-out Redis commands (memo.Stats.Errors).", func(s memo.Stats) int64 { return s.Errors }},
}

var rateLimitCounters = []counterSpec[ratelimit.Stats]{
	{"rediskit.ratelimit.allowed", "{decision}", "Decisions that allowed (ratelimit.Stats.Allowed).", func(s ratelimit.Stats) int64 { return int64(s.Allowed) }},
	{"rediskit.ratelimit.denied", "{decision}", "Decisions that denied, local ones included (ratelimit.Stats.Denied).", func(s ratelimit.Stats) int64 { return int64(s.Denied) }},
	{"rediskit.ratelimit.local_denied", "{decision}", "Denials answered by the local deny cache (ratelimit.Stats.LocalDenied).", func(s ratelimit.Stats) int64 { return int64(s.LocalDenied) }},
	{"rediskit.ratelimit.errors", "{error}", "Redis failures and timeouts: decisions failed open, or refused with FailClosed (ratelimit.Stats.Errors).", func(s ratelimit.Stats) int64 { return int64(s.Errors) }},
}

var httpCacheCounters = []counterSpec[httpcache.Stats]{
	{"rediskit.httpcache.hits", "{response}", "Responses served fresh from the cache (httpcache.Stats.Hits).", func(s httpcache.Stats) int64 { return int64(s.Hits) }},
	{"rediskit.httpcache.misses", "{response}", "Responses fetched from the handler (httpcache.Stats.Misses).", func(s httpcache.Stats) int64 { return int64(s.Misses) }},
	{"rediskit.httpcache.stale", "{response}", "Stale responses served (httpcache.Stats.Stale).", func(s httpcache.Stats) int64 { return int64(s.Stale) }},
	{"rediskit.httpcache.stored", "{response}", "Responses stored (httpcache.Stats.Stored).", func(s httpcache.Stats) int64 { return int64(s.Stored) }},
	{"rediskit.httpcache.errors", "{error}", "Redis failures (httpcache.Stats.Errors).", func(s httpcache.Stats) int64 { return int64(s.Errors) }},
}

var viewCountCounters = []counterSpec[viewcount.Stats]{
	{"rediskit.viewcount.recorded", "{view}", "Views Record accepted (viewcount.Stats.Recorded).", func(s viewcount.Stats) int64 { return s.Recorded }},
	{"rediskit.viewcount.counted", "{view}", "Recorded views that incremented a total (viewcount.Stats.Counted).", func(s viewcount.Stats) int64 { return s.Counted }},
	{"rediskit.viewcount.flushed", "{view}", "Views flushes applied (viewcount.Stats.Flushed).", func(s viewcount.Stats) int64 { return s.Flushed }},
	{"rediskit.viewcount.dropped", "{view}", "Views given up on (viewcount.Stats.Dropped).", func(s viewcount.Stats) int64 { return s.Dropped }},
	{"rediskit.viewcount.flushes", "{flush}", "Flush attempts that sent something (viewcount.Stats.Flushes).", func(s viewcount.Stats) int64 { return s.Flushes }},
	{"rediskit.viewcount.flush_errors", "{flush}", "Flushes that failed, kept for retry (viewcount.Stats.FlushErrors).", func(s viewcount.Stats) int64 { return s.FlushErrors }},
	{"rediskit.viewcount.errors", "{error}", "Failures reported to OnError (viewcount.Stats.Errors).", func(s viewcount.Stats) int64 { return s.Errors }},
}

// observed is one feature kind's instruments and how to observe them.
type observed[S any] struct {
	specs []counterSpec[S]
	insts []metric.Int64ObservableCounter
}

func newObserved[S any](m metric.Meter, specs []counterSpec[S], all *[]metric.Observable) (*observed[S], error) {
	o := &observed[S]{specs: specs}
	for _, s := range specs {
		c, err := m.Int64ObservableCounter(s.name, metric.WithUnit(s.unit), metric.WithDescription(s.desc))
		if err != nil {
			return nil, fmt.Errorf("rediskitotel: %s: %w", s.name, err)
		}
		o.insts = append(o.insts, c)
		*all = append(*all, c)
	}
	return o, nil
}

func (o *observed[S]) observe(obs metric.Observer, list []entry[S]) {
	for _, e := range list {
		st := e.stats()
		for j, s := range o.specs {
			obs.ObserveInt64(o.insts[j], s.read(st), e.attrs)
		}
	}
}

// registerStats creates the observable instruments and the one callback
// that reads every registered feature's Stats at collection.
func (i *Instrumentation) registerStats(m metric.Meter) (metric.Registration, error) {
	var all []metric.Observable
	mo, err := newObserved(m, memoCounters, &all)
	if err != nil {
		return nil, err
	}
	ro, err := newObserved(m, rateLimitCounters, &all)
	if err != nil {
		return nil, err
	}
	ho, err := newObserved(m, httpCacheCounters, &all)
	if err != nil {
		return nil, err
	}
	vo, err := newObserved(m, viewCountCounters, &all)
	if err != nil {
		return nil, err
	}
	pending, err := m.Int64ObservableUpDownCounter("rediskit.viewcount.pending", metric.WithUnit("{view}"),
		metric.WithDescription("Views a Buffered Counter holds, unflushed (viewcount.Stats.Pending)."))
	if err != nil {
		return nil, fmt.Errorf("rediskitotel: %w", err)
	}
	lag, err := m.Float64ObservableGauge("rediskit.viewcount.flush.lag", metric.WithUnit("s"),
		metric.WithDescription("Time since viewcount.Stats.LastFlush while views are pending (no pending view is older), else 0."))
	if err != nil {
		return nil, fmt.Errorf("rediskitotel: %w", err)
	}
	all = append(all, pending, lag)
	reg, err := m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		i.mu.Lock()
		f := i.feats // the slices only grow: a copy of the headers is enough
		i.mu.Unlock()
		mo.observe(obs, f.memo)
		ro.observe(obs, f.ratelimit)
		ho.observe(obs, f.httpcache)
		vo.observe(obs, f.viewcount)
		for _, e := range f.viewcount {
			st := e.stats()
			obs.ObserveInt64(pending, st.Pending, e.attrs)
			obs.ObserveFloat64(lag, flushLag(st, time.Now()), e.attrs)
		}
		return nil
	}, all...)
	if err != nil {
		return nil, fmt.Errorf("rediskitotel: %w", err)
	}
	return reg, nil
}

// flushLag is the flush lag of st at now: how long views have been waiting
// at most (0 when none is pending or the Counter is Direct).
func flushLag(st viewcount.Stats, now time.Time) float64 {
	if st.Pending == 0 || st.LastFlush.IsZero() {
		return 0
	}
	return max(now.Sub(st.LastFlush).Seconds(), 0)
}
