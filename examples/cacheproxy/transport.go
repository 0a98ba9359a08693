package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Go's HTTP client implements one transfer coding, chunked alone, and
// rejects a response with any other Transfer-Encoding ("unsupported
// transfer encoding"), which httputil.ReverseProxy turns into a 502. RFC
// 9112 §6.3 says how to read such a response: when chunked is not the
// final coding, the body lasts until the origin closes the connection.
// nginx and Squid read it so; this proxy does too, for plain-http
// origins: the connection to the origin is read through a filter that
// follows the HTTP/1.1 message framing and, in the header of a response
// whose transfer codings are not chunked alone, drops Transfer-Encoding
// (and any Content-Length, which it overrides) and adds "Connection:
// close", so Go reads the body until the close. The body is passed on as
// it came: the codings named are not undone (the obsolete "identity" and
// unknown names are what this is for). Responses with chunked alone,
// Content-Length or no body are not changed and the connection stays
// reusable. An https origin's connection is encrypted below the filter,
// so there an unknown coding still gives a 502.

// newOriginTransport returns the proxy's transport to the origin.
func newOriginTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &framedConn{Conn: c}, nil
	}
	return tr
}

// maxHeaderBlock is the longest response header block the filter rewrites;
// a longer one passes unchanged (and the connection is not followed).
const maxHeaderBlock = 64 << 10

// framing states of a framedConn's read side.
const (
	awaitRequest = iota // between exchanges
	inHeader            // reading a response header block
	inBody              // reading a Content-Length body: left bytes to go
	inChunked           // reading a chunked body: chunk tracks it
	opaque              // not followed any more: bytes pass unchanged
)

// framedConn follows HTTP/1.1 exchanges on a client connection (Go's
// transport writes a request, then reads its response; it writes the next
// request only when both are complete) to find each response header block.
type framedConn struct {
	net.Conn
	mu     sync.Mutex
	state  int
	head   bool   // the request in flight is a HEAD
	left   int64  // inBody: body bytes to go
	chunk  chunks // inChunked
	hdr    []byte // inHeader: bytes of the header block so far
	out    []byte // bytes to return before reading more
	buf    []byte // read buffer
	outErr error  // error to return once out is drained
}

// Write notes the start of a request: its first write begins with the
// request line (Go's transport writes the request's header from one buffer).
// A write while a response is already being read (the rest of a request
// body) changes nothing.
func (c *framedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if (c.state == awaitRequest || (c.state == inHeader && len(c.hdr) == 0)) && requestLine(p) {
		c.state = inHeader
		c.head = bytes.HasPrefix(p, []byte("HEAD "))
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// requestLine reports whether p starts with an HTTP/1.x request line.
func requestLine(p []byte) bool {
	line, _, ok := bytes.Cut(p, []byte("\n"))
	sp := bytes.IndexByte(line, ' ')
	return ok && sp > 0 && bytes.Contains(line, []byte(" HTTP/1."))
}

func (c *framedConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			c.mu.Unlock()
			return n, nil
		}
		if c.outErr != nil {
			err := c.outErr
			c.mu.Unlock()
			return 0, err
		}
		if c.state == opaque { // no longer followed: straight through
			c.mu.Unlock()
			return c.Conn.Read(p)
		}
		if len(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)] // only this goroutine reads
		c.mu.Unlock()
		n, err := c.Conn.Read(buf)
		c.mu.Lock()
		c.feed(buf[:n])
		if err != nil {
			c.out = append(c.out, c.hdr...) // an unfinished header block goes as it is
			c.hdr = nil
			c.outErr = err
		}
		c.mu.Unlock()
	}
}

// feed runs the bytes b the origin sent through the framing, appending what
// the reader gets to c.out.
func (c *framedConn) feed(b []byte) {
	for len(b) > 0 {
		switch c.state {
		case awaitRequest, opaque:
			c.out = append(c.out, b...)
			return
		case inBody:
			n := min(int64(len(b)), c.left)
			c.out = append(c.out, b[:n]...)
			c.left -= n
			b = b[n:]
			if c.left == 0 {
				c.state = awaitRequest
			}
		case inChunked:
			n, done, ok := c.chunk.scan(b)
			c.out = append(c.out, b[:n]...)
			b = b[n:]
			switch {
			case !ok:
				c.state = opaque
			case done:
				c.state = awaitRequest
			}
		case inHeader:
			c.hdr = append(c.hdr, b...)
			b = nil
			end := headerEnd(c.hdr)
			if end < 0 {
				if len(c.hdr) > maxHeaderBlock {
					c.out = append(c.out, c.hdr...)
					c.hdr = nil
					c.state = opaque
				}
				return
			}
			block, rest := c.hdr[:end], c.hdr[end:]
			c.hdr = nil
			c.out = append(c.out, c.header(block)...)
			b = rest
		}
	}
}

// headerEnd returns the length of the header block at the start of b
// (through its empty line), or -1 when b does not hold all of it.
func headerEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// header returns the response header block as the reader gets it, and
// sets the framing state for what follows it.
func (c *framedConn) header(block []byte) []byte {
	lines := bytes.SplitAfter(block, []byte("\n"))
	status := 0
	if f := bytes.Fields(lines[0]); len(f) >= 2 {
		status, _ = strconv.Atoi(string(f[1]))
	}
	var te [][]byte
	var cl []int64
	for _, l := range lines[1:] {
		name, val, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch string(bytes.ToLower(bytes.TrimSpace(name))) {
		case "transfer-encoding":
			for _, cd := range bytes.Split(val, []byte(",")) {
				if cd = bytes.TrimSpace(cd); len(cd) > 0 {
					te = append(te, bytes.ToLower(cd))
				}
			}
		case "content-length":
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				n = -1
			}
			cl = append(cl, n)
		}
	}
	switch {
	case status < 100:
		c.state = opaque
	case status < 200:
		c.state = inHeader // an interim response: the final one follows
	case c.head || status == 204 || status == 304:
		c.state = awaitRequest
	case len(te) == 1 && string(te[0]) == "chunked":
		c.state, c.chunk = inChunked, chunks{}
	case len(te) > 0 && !anyCoding(te):
		// Only codings this proxy knows nothing of (identity, or a name
		// no client could decode either): the body is read until close
		// and passed on as it came (RFC 9112 §6.3). A chunked, gzip,
		// deflate or compress coding is left to Go, which answers 502
		// rather than pass coded bytes on as a plain body.
		c.state = opaque
		return closeDelimited(lines)
	case len(te) == 0 && len(cl) > 0 && sameLengths(cl):
		c.state, c.left = inBody, cl[0]
		if c.left == 0 {
			c.state = awaitRequest
		}
	default: // read until close, or an error Go reports
		c.state = opaque
	}
	return block
}

// anyCoding reports whether te names a transfer coding that changes the
// body's bytes: chunked, gzip, x-gzip, deflate or compress.
func anyCoding(te [][]byte) bool {
	for _, cd := range te {
		switch string(cd) {
		case "chunked", "gzip", "x-gzip", "deflate", "compress", "x-compress":
			return true
		}
	}
	return false
}

func sameLengths(cl []int64) bool {
	for _, n := range cl {
		if n < 0 || n != cl[0] {
			return false
		}
	}
	return true
}

// closeDelimited rewrites a header block without its Transfer-Encoding and
// Content-Length fields and with Connection: close.
func closeDelimited(lines [][]byte) []byte {
	var out []byte
	for i, l := range lines {
		name, _, _ := bytes.Cut(l, []byte(":"))
		n := string(bytes.ToLower(bytes.TrimSpace(name)))
		if i > 0 && (n == "transfer-encoding" || n == "content-length") {
			continue
		}
		if i > 0 && len(bytes.TrimSpace(l)) == 0 && len(l) > 0 { // the empty line ends the block
			out = append(out, "Connection: close\r\n"...)
		}
		out = append(out, l...)
	}
	return out
}

// chunks follows a chunked body (RFC 9112 §7.1) as its bytes go by.
type chunks struct {
	line    []byte // the chunk-size line or trailer line so far
	left    int64  // data bytes (and CRLF) of the current chunk to go
	trailer bool   // past the last chunk: reading trailer lines
}

// scan consumes a prefix of b: n bytes belong to the body; done reports
// the body ended after them; ok false means b is not valid chunked framing.
func (k *chunks) scan(b []byte) (n int, done, ok bool) {
	for n < len(b) {
		if k.left > 0 {
			m := int(min(int64(len(b)-n), k.left))
			n += m
			k.left -= int64(m)
			continue
		}
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			k.line = append(k.line, b[n:]...)
			return len(b), false, len(k.line) <= maxHeaderBlock
		}
		k.line = append(k.line, b[n:n+i+1]...)
		n += i + 1
		line := bytes.TrimRight(k.line, "\r\n")
		k.line = k.line[:0]
		if k.trailer {
			if len(line) == 0 {
				return n, true, true
			}
			continue
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		sz, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || sz < 0 {
			return n, false, false
		}
		if sz == 0 {
			k.trailer = true
			continue
		}
		k.left = sz + 2 // the data and its CRLF
	}
	return n, false, true
}
