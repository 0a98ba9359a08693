package httpcache_test

import (
	"time"

	"github.com/rediskit/rediskit/httpcache"
)

const capability = `Surrogate-Capability: rediskit="Surrogate/1.0"`

func surrogateCases() []rfcCase {
	return []rfcCase{
		{name: "surrogate max-age wins over a shorter Cache-Control max-age", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=1", "Surrogate-Control: max-age=100", date0}, body: "v1"}, called: true,
				hdr: []string{"Surrogate-Control:", "Cache-Control: max-age=1"}, cs: "ttl=100; stored", originSaw: []string{capability}},
			{wait: 50 * time.Second, body: str("v1"), hdr: []string{"Surrogate-Control:", "Cache-Control: max-age=1", "Age: 50"}, cs: "hit; ttl=50"},
			{wait: 51 * time.Second, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "surrogate max-age wins over a longer Cache-Control max-age and Expires", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=3600", "Expires: {date+3600}", "Surrogate-Control: max-age=10", date0}, body: "v1"}, called: true},
			{wait: 11 * time.Second, origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "surrogate max-age=0 with a future Expires is stale", steps: []step{
			{origin: resp{hdr: []string{"Expires: {date+3600}", "Surrogate-Control: max-age=0", date0}, body: "v1"}, called: true},
			{origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "surrogate no-store beats a fresh Cache-Control", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=3600", "Surrogate-Control: no-store", date0}, body: "v1"}, called: true,
				hdr: []string{"Surrogate-Control:"}, cs: "detail=no-store"},
			{origin: resp{hdr: []string{ok60, date0}, body: "v2"}, called: true, body: str("v2")},
		}},
		{name: "surrogate max-age targeted here stores despite Cache-Control no-store", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: no-store, no-cache", "Surrogate-Control: max-age=60;rediskit", date0}, body: "v1"}, called: true,
				hdr: []string{"Cache-Control: no-store, no-cache"}},
			{body: str("v1"), hdr: []string{"Cache-Control: no-store, no-cache", "Surrogate-Control:"}, cs: "hit"},
		}},
		{name: "surrogate directives targeted elsewhere are ignored", steps: []step{
			{origin: resp{hdr: []string{ok60, "Surrogate-Control: no-store;cdn, max-age=0;other", date0}, body: "v1"}, called: true,
				hdr: []string{"Surrogate-Control:"}},
			{body: str("v1"), cs: "hit; ttl=60"},
		}},
		{name: "a targeted surrogate directive wins over the untargeted one", steps: []step{
			{origin: resp{hdr: []string{"Surrogate-Control: max-age=10, MAX-AGE=100;RedisKit", date0}, body: "v1"}, called: true},
			{wait: 50 * time.Second, body: str("v1"), cs: "hit; ttl=50"},
		}},
		{name: "surrogate stale-if-error serves stale on a 5xx", steps: []step{
			{origin: resp{hdr: []string{"Surrogate-Control: max-age=10, stale-if-error=60", date0}, body: "v1"}, called: true},
			{wait: 20 * time.Second, origin: resp{status: 503, body: "down"}, called: true, body: str("v1"), cs: "detail=stale-if-error"},
		}},
		{name: "a 304 keeps the stored Surrogate-Control", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: no-store", "Surrogate-Control: max-age=10", `ETag: "a"`, date0}, body: "v1"}, called: true},
			{wait: 11 * time.Second, origin: resp{status: 304, hdr: []string{"Cache-Control: no-store", date0}}, called: true,
				originSaw: []string{`If-None-Match: "a"`}, body: str("v1"), hdr: []string{"Surrogate-Control:"}, cs: "fwd=stale; fwd-status=304; ttl=10; stored"},
			{wait: 5 * time.Second, body: str("v1"), cs: "hit"},
		}},
		{name: "Surrogate-Control removed from uncached and unsafe responses", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: no-store", "Surrogate-Control: no-store", date0}, body: "v1"}, called: true,
				hdr: []string{"Surrogate-Control:"}},
			{method: "POST", origin: resp{hdr: []string{"Surrogate-Control: max-age=60", date0}, body: "p"}, called: true,
				hdr: []string{"Surrogate-Control:"}},
		}},
		{name: "IgnoreSurrogateControl reads Cache-Control only", opts: httpcache.Options{Storage: httpcache.StorageOptions{IgnoreSurrogateControl: true}}, steps: []step{
			{origin: resp{hdr: []string{ok60, "Surrogate-Control: no-store", date0}, body: "v1"}, called: true,
				hdr: []string{"Surrogate-Control: no-store"}, originSaw: []string{"Surrogate-Capability:"}},
			{body: str("v1"), hdr: []string{"Surrogate-Control: no-store"}, cs: "hit"},
		}},
	}
}
