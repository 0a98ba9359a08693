package httpcache_test

import (
	"time"

	"github.com/rediskit/rediskit/httpcache"
)

func heuristicCases() []rfcCase {
	day := "Last-Modified: {date-86400}" // 10% = 8640 s
	fresh := func(name string, status int, extra ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: resp{status: status, hdr: append([]string{day, date0}, extra...), body: "v1"}, called: true, status: status,
				cs: "ttl=8640; stored; detail=heuristic"},
			{wait: 8000 * time.Second, status: status, hdr: []string{"Age: 8000"}, cs: "hit; ttl=640; detail=heuristic"},
			{wait: 641 * time.Second, origin: resp{status: status, hdr: []string{ok60, date0}, body: "v2"}, called: true, status: status,
				originSaw: []string{"If-Modified-Since: {date-95041}"}},
		}}
	}
	notStored := func(name string, status int, extra ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: resp{status: status, hdr: append([]string{day, date0}, extra...), body: "v1"}, called: true, status: status},
			{origin: resp{status: status, hdr: []string{date0}, body: "v2"}, called: true, status: status},
		}}
	}
	return []rfcCase{
		fresh("heuristic 200", 200),
		fresh("heuristic 203", 203),
		fresh("heuristic 404", 404),
		fresh("heuristic 410", 410),
		fresh("heuristic 501", 501),
		fresh("heuristic 599 with public", 599, "Cache-Control: public"),
		notStored("no heuristic for 201", 201),
		notStored("no heuristic for 503", 503),
		notStored("no heuristic for 599 without public", 599),
		{name: "heuristic 204 without body", steps: []step{
			{origin: resp{status: 204, hdr: []string{day, date0}}, called: true, status: 204, cs: "detail=heuristic"},
			{status: 204, body: str(""), cs: "hit"},
		}},
		{name: "heuristic capped", steps: []step{
			{origin: resp{hdr: []string{"Last-Modified: {date-31536000}", date0}, body: "v1"}, called: true, cs: "ttl=86400; stored; detail=heuristic"},
		}},
		{name: "heuristic cap configured", opts: httpcache.Options{Storage: httpcache.StorageOptions{MaxHeuristicFreshness: time.Minute}}, steps: []step{
			{origin: resp{hdr: []string{day, date0}, body: "v1"}, called: true, cs: "ttl=60; stored"},
		}},
		{name: "heuristic off: stored stale for revalidation", opts: httpcache.Options{Storage: httpcache.StorageOptions{MaxHeuristicFreshness: -1}}, steps: []step{
			{origin: resp{hdr: []string{day, date0}, body: "v1"}, called: true, cs: "ttl=0; stored"},
			{origin: resp{status: 304, hdr: []string{date0}}, called: true, originSaw: []string{"If-Modified-Since: {date-86400}"}, body: str("v1")},
		}},
		{name: "a Rule wins over the heuristic", opts: httpcache.Options{Storage: httpcache.StorageOptions{Rules: []httpcache.Rule{{Prefix: "/", TTL: time.Minute}}}}, steps: []step{
			{origin: resp{hdr: []string{day, date0}, body: "v1"}, called: true, cs: "ttl=60; stored"},
		}},
		{name: "explicit freshness is not heuristic", steps: []step{
			{origin: resp{hdr: []string{day, date0, "Cache-Control: max-age=5"}, body: "v1"}, called: true, cs: "ttl=5; stored"},
			{body: str("v1"), cs: "hit; ttl=5"},
		}},
		{name: "invalid Expires is stale, not heuristic", steps: []step{
			{origin: resp{hdr: []string{day, date0, "Expires: never"}, body: "v1"}, called: true, cs: "ttl=0; stored"},
		}},
		{name: "Last-Modified after Date gives no heuristic", steps: []step{
			{origin: resp{hdr: []string{"Last-Modified: {date+100}", date0}, body: "v1"}, called: true, cs: "ttl=0; stored"},
		}},
	}
}
