package httpcache

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/http"
	"sort"
	"time"
	"unsafe"
)

// entry is one stored response: metadata, header fields and body.
type entry struct {
	status       int
	flags        uint8
	responseTime int64         // unix nanoseconds the response was received
	initialAge   time.Duration // corrected_initial_age (RFC 9111 §4.2.3)
	lifetime     time.Duration
	swr, sie     time.Duration
	vary         string      // normalized Vary spec; "" when the response has none
	header       http.Header // nil until fields decodes raw, for a decoded entry
	body         string
	raw          string   // a decoded entry's encoded header fields (see fields)
	nFields      int      // the field count of raw
	nVals        int      // the value count of raw
	spare        []string // room for raw's values, allocated with the entry
	variant      string   // variantID of the request it answers (not encoded)
	owned        bool     // decoded for one request: its header may be handed out as is
}

// Encoded layout: "RKH1", uvarints status, flags, responseTime (zig-zag),
// initialAge, lifetime, swr, sie; strings (uvarint length + bytes) vary;
// uvarint field count, then per field its name, uvarint value count and
// values; the body; then a CRC-32C of everything before it.
const magic = "RKH1"

var (
	errCorrupt = errors.New("httpcache: corrupt entry")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

func (e *entry) encode() []byte {
	n := len(magic) + 64 + len(e.vary) + len(e.body)
	hdr := e.fields()
	keys := make([]string, 0, len(hdr))
	for k, vs := range hdr {
		keys = append(keys, k)
		n += len(k) + 4
		for _, v := range vs {
			n += len(v) + 3
		}
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(e.status))
	b = binary.AppendUvarint(b, uint64(e.flags))
	b = binary.AppendVarint(b, e.responseTime)
	for _, d := range []time.Duration{e.initialAge, e.lifetime, e.swr, e.sie} {
		b = binary.AppendUvarint(b, uint64(max(d, 0)))
	}
	b = appendString(b, e.vary)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	total := 0
	for _, vs := range hdr {
		total += len(vs)
	}
	b = binary.AppendUvarint(b, uint64(total))
	for _, k := range keys {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(hdr[k])))
		for _, v := range hdr[k] {
			b = appendString(b, v)
		}
	}
	b = appendString(b, e.body)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads an encoded entry from a string without copying: strings it
// returns share the input's memory.
type decoder struct {
	s   string
	err bool
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(d.s) == 0 {
			d.err = true
			return 0
		}
		c := d.s[0]
		d.s = d.s[1:]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
	d.err = true
	return 0
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)) {
		d.err = true
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// decodeEntry parses an encoded entry; any inconsistency is errCorrupt.
// Its header fields are checked but stay encoded (raw) until fields or
// serveEntry decodes them: a hit decodes them straight into the response.
func decodeEntry(s string) (*entry, error) {
	if len(s) < len(magic)+4 || s[:len(magic)] != magic {
		return nil, errCorrupt
	}
	body := s[:len(s)-4]
	t := s[len(s)-4:]
	want := uint32(t[0]) | uint32(t[1])<<8 | uint32(t[2])<<16 | uint32(t[3])<<24
	if crc32.Update(0, crcTable, unsafe.Slice(unsafe.StringData(body), len(body))) != want {
		return nil, errCorrupt
	}
	d := decoder{s: body[len(magic):]}
	// One allocation for the entry and room for a few header values.
	blk := &struct {
		entry
		vals [spareVals]string
	}{}
	e := &blk.entry
	e.owned = true
	e.status = int(d.uvarint())
	e.flags = uint8(d.uvarint())
	ux := d.uvarint()
	e.responseTime = int64(ux >> 1)
	if ux&1 != 0 {
		e.responseTime = ^e.responseTime
	}
	for _, p := range []*time.Duration{&e.initialAge, &e.lifetime, &e.swr, &e.sie} {
		*p = time.Duration(d.uvarint())
	}
	e.vary = d.str()
	nk, total := d.uvarint(), d.uvarint()
	if d.err || nk > uint64(len(d.s)) || total > uint64(len(d.s)) {
		return nil, errCorrupt
	}
	raw := d.s
	left := total
	for i := uint64(0); i < nk && !d.err; i++ {
		d.str()
		nv := d.uvarint()
		if nv == 0 || nv > left {
			return nil, errCorrupt
		}
		left -= nv
		for range nv {
			d.str()
		}
	}
	if left != 0 {
		return nil, errCorrupt
	}
	e.raw, e.nFields, e.nVals = raw[:len(raw)-len(d.s)], int(nk), int(total)
	if e.nVals <= spareVals {
		e.spare = blk.vals[:0:e.nVals]
	}
	e.body = d.str()
	if d.err || len(d.s) != 0 || e.status < 100 || e.status > 999 {
		return nil, errCorrupt
	}
	return e, nil
}

// spareVals is how many header values a decoded entry has room for.
const spareVals = 8

// fields returns e's header fields, decoding them on first use for a
// decoded entry. An entry shared by several goroutines has them decoded
// already (share).
func (e *entry) fields() http.Header {
	if e.header == nil && e.nFields > 0 {
		h := make(http.Header, e.nFields)
		e.addFields(h, make([]string, 0, e.nVals), nil)
		e.header = h
	}
	return e.header
}

// addFields decodes raw's fields (checked by decodeEntry) into h, their
// values into vals (room for nVals, capacity-limited slices of it in h),
// leaving out those c hides when c is not nil.
func (e *entry) addFields(h http.Header, vals []string, c *Cache) {
	d := decoder{s: e.raw}
	for range e.nFields {
		k := d.str()
		i := len(vals)
		for range d.uvarint() {
			vals = append(vals, d.str())
		}
		if c != nil && c.hidden(k) {
			vals = vals[:i]
			continue
		}
		h[k] = vals[i:len(vals):len(vals)]
	}
}

// share marks e as shared by several responses, which then copy its header
// (an entry of the in-process tier already is: it is never written to).
// Its header fields are decoded first: no goroutine writes to it later.
func (e *entry) share() {
	e.fields()
	if e.owned {
		e.owned = false
	}
}

// age is the entry's current_age at now (RFC 9111 §4.2.3).
func (e *entry) age(now time.Time) time.Duration {
	resident := now.UnixNano() - e.responseTime
	return e.initialAge + time.Duration(max(resident, 0))
}
