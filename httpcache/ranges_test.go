package httpcache_test

import (
	"time"
)

func rangeCases() []rfcCase {
	hello := resp{hdr: []string{ok60, date0, `ETag: "e1"`, "Last-Modified: {date-100}", "Content-Type: text/plain"}, body: "hello"}
	// ranged is a case storing hello, then asking for one range of it.
	ranged := func(name string, req []string, status int, body string, hdr ...string) rfcCase {
		return rfcCase{name: name, steps: []step{
			{origin: hello, called: true, body: str("hello")},
			{req: req, status: status, body: str(body), hdr: hdr, cs: "hit"},
		}}
	}
	return []rfcCase{
		ranged("range first-last from a stored 200", []string{"Range: bytes=0-1"}, 206, "he",
			"Content-Range: bytes 0-1/5", "Content-Length: 2", "Content-Type: text/plain", `ETag: "e1"`),
		ranged("range open-ended", []string{"Range: bytes=1-"}, 206, "ello", "Content-Range: bytes 1-4/5", "Content-Length: 4"),
		ranged("range suffix", []string{"Range: bytes=-2"}, 206, "lo", "Content-Range: bytes 3-4/5"),
		ranged("range suffix longer than the body", []string{"Range: bytes=-10"}, 206, "hello", "Content-Range: bytes 0-4/5"),
		ranged("range last past the end", []string{"Range: BYTES = 3-100"}, 206, "lo", "Content-Range: bytes 3-4/5"),
		ranged("range past the end is 416", []string{"Range: bytes=5-"}, 416, "",
			"Content-Range: bytes */5", "Content-Length: 0", "Content-Type:"),
		ranged("range zero suffix is 416", []string{"Range: bytes=-0"}, 416, "", "Content-Range: bytes */5"),
		ranged("several ranges get the whole response", []string{"Range: bytes=0-1, 3-4"}, 200, "hello", "Content-Range:"),
		ranged("invalid range ignored", []string{"Range: bytes=3-1"}, 200, "hello", "Content-Range:"),
		ranged("other unit ignored", []string{"Range: items=0-1"}, 200, "hello"),
		ranged("If-Range with the strong ETag", []string{"Range: bytes=0-1", `If-Range: "e1"`}, 206, "he"),
		ranged("If-Range with another ETag gets the whole", []string{"Range: bytes=0-1", `If-Range: "e2"`}, 200, "hello"),
		ranged("If-Range with a weak ETag gets the whole", []string{"Range: bytes=0-1", `If-Range: W/"e1"`}, 200, "hello"),
		ranged("If-Range with the Last-Modified date", []string{"Range: bytes=0-1", "If-Range: {date-100}"}, 206, "he"),
		ranged("If-Range with another date gets the whole", []string{"Range: bytes=0-1", "If-Range: {date-99}"}, 200, "hello"),
		ranged("If-None-Match comes before Range", []string{"Range: bytes=0-1", `If-None-Match: "e1"`}, 304, ""),
		{name: "If-Range date needs a strong Last-Modified", steps: []step{
			{origin: resp{hdr: []string{ok60, date0, "Last-Modified: {date}"}, body: "hello"}, called: true},
			{req: []string{"Range: bytes=0-1", "If-Range: {date}"}, status: 200, body: str("hello"), cs: "hit"},
		}},
		{name: "HEAD ignores Range", steps: []step{
			{origin: hello, called: true},
			{method: "HEAD", req: []string{"Range: bytes=0-1"}, status: 200, body: str(""), hdr: []string{"Content-Range:"}, cs: "hit"},
		}},
		{name: "Range on a stored 404 gets the 404", steps: []step{
			{origin: resp{status: 404, hdr: []string{ok60, date0}, body: "nope"}, called: true, status: 404},
			{req: []string{"Range: bytes=0-1"}, status: 404, body: str("nope"), cs: "hit"},
		}},
		{name: "range miss: the handler's 206 passes and is not stored", steps: []step{
			{req: []string{"Range: bytes=0-1"}, origin: resp{status: 206, hdr: []string{ok60, date0, "Content-Range: bytes 0-1/5"}, body: "he"},
				called: true, status: 206, body: str("he"), originSaw: []string{"Range: bytes=0-1"}, cs: "detail=status"},
			{origin: hello, called: true, body: str("hello"), originSaw: []string{"Range:"}},
		}},
		{name: "range miss: a 200 is stored and cut", steps: []step{
			{req: []string{"Range: bytes=1-2"}, origin: hello, called: true, status: 206, body: str("el"), cs: "stored"},
			{body: str("hello"), cs: "hit"},
		}},
		{name: "stale entry revalidated for a range", steps: []step{
			{origin: hello, called: true},
			{wait: 61 * time.Second, req: []string{"Range: bytes=-3"}, origin: resp{status: 304, hdr: []string{ok60, date0}}, called: true,
				originSaw: []string{`If-None-Match: "e1"`, "Range: bytes=-3"}, status: 206, body: str("llo"), cs: "fwd=stale; fwd-status=304"},
		}},
	}
}
