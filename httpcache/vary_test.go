package httpcache_test

import "time"

func normalisationCases() []rfcCase {
	lang := resp{hdr: []string{ok60, date0, "Vary: Accept-Language"}, body: "v1"}
	return []rfcCase{
		{name: "Accept-Language spellings share a variant", steps: []step{
			{req: []string{"Accept-Language: en, de"}, origin: lang, called: true},
			{req: []string{"Accept-Language: de, en"}, body: str("v1"), cs: "hit"},
			{req: []string{"Accept-Language: eN ,De;q=1.0"}, body: str("v1"), cs: "hit"},
			{req: []string{"Accept-Language: en, de;q=0.5"}, origin: resp{hdr: lang.hdr, body: "v2"}, called: true, body: str("v2")},
			{req: []string{"Accept-Language: de;q=0.50, EN"}, body: str("v2"), cs: "hit"},
			{origin: resp{hdr: lang.hdr, body: "v3"}, called: true, body: str("v3")},
		}},
		// RFC 9111 §4.3.2: without Last-Modified, Date is the modification
		// time an If-Modified-Since is compared with.
		{name: "If-Modified-Since without Last-Modified compares with Date", steps: []step{
			{origin: resp{hdr: []string{"Cache-Control: max-age=10000", date0}, body: "v1"}, called: true},
			{wait: 10 * time.Second, req: []string{"If-Modified-Since: {date-10}"}, status: 304, body: str(""), cs: "hit"},
			{req: []string{"If-Modified-Since: {date}"}, status: 304, cs: "hit"},
			{req: []string{"If-Modified-Since: {date-3000}"}, status: 200, body: str("v1"), cs: "hit"},
			{req: []string{"If-Modified-Since: {date-11}"}, status: 200, body: str("v1"), cs: "hit"},
		}},
	}
}
