package httpcache

import (
	"maps"
	"net/http"
)

// capture modes, chosen when the handler writes its header.
const (
	modeHold    = iota // buffer; the client gets nothing until released
	modeTee            // forward to the client and record (after a release)
	modePass           // forward only
	modeDiscard        // drop (a 304 or an error replaced by a stored response)
)

// capture is the ResponseWriter a handler writes to on a forwarded request.
// It keeps the handler's header apart from the client's, decides at
// WriteHeader what to do with the response, records a body of at most max
// bytes, and never holds more than that: a longer body is released to the
// client and streamed.
type capture struct {
	client http.ResponseWriter // nil for background revalidation
	header http.Header
	status int
	mode   int
	body   []byte
	max    int
	// fits is false once the body exceeded max (or a write failed).
	fits     bool
	released bool // the header went to the client
	// unreachable is set by OriginUnreachable: the response stands for an
	// origin that could not be reached.
	unreachable bool
	// decide picks the mode when the status is known.
	decide func(status int, h http.Header) int
	// release writes the response header to the client; it may adjust it
	// (Cache-Status, tag header) first.
	release func(status int, h http.Header)
	err     error
}

func newCapture(client http.ResponseWriter, max int) *capture {
	return &capture{client: client, header: make(http.Header), max: max, fits: true}
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(status int) {
	if c.status != 0 {
		return
	}
	if status < 200 && status != http.StatusSwitchingProtocols {
		if c.client != nil { // informational (103 Early Hints): pass on
			maps.Copy(c.client.Header(), c.header)
			c.client.WriteHeader(status)
		}
		return
	}
	c.status = status
	c.mode = c.decide(status, c.header)
	if c.client == nil && c.mode != modeDiscard {
		c.mode = modeHold
	}
	if c.mode == modePass || c.mode == modeTee {
		c.sendHeader()
	}
}

func (c *capture) sendHeader() {
	if c.released || c.client == nil {
		return
	}
	c.released = true
	c.release(c.status, c.header)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.err != nil {
		return 0, c.err
	}
	switch c.mode {
	case modeDiscard:
		return len(p), nil
	case modePass:
		return c.client.Write(p)
	}
	if c.fits && len(c.body)+len(p) <= c.max {
		c.body = append(c.body, p...)
		if c.mode == modeHold {
			return len(p), nil
		}
		return c.write(p)
	}
	// Over the limit: stop recording, hand what we hold to the client, and
	// stream the rest.
	c.fits = false
	if c.client == nil {
		c.body = nil
		c.mode = modeDiscard
		return len(p), nil
	}
	if c.mode == modeHold {
		c.sendHeader()
		if _, err := c.write(c.body); err != nil {
			return 0, err
		}
	}
	c.body = nil
	c.mode = modePass
	return c.write(p)
}

func (c *capture) write(p []byte) (int, error) {
	n, err := c.client.Write(p)
	if err != nil {
		c.err = err
		c.fits = false
	}
	return n, err
}

// Flush releases a held response (the handler wants it streamed) and
// flushes the client.
func (c *capture) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.client == nil || c.mode == modeDiscard {
		return
	}
	if c.mode == modeHold {
		c.sendHeader()
		if _, err := c.write(c.body); err != nil {
			return
		}
		c.mode = modeTee
	}
	if f, ok := c.client.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the client's writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.client }

// finish completes a response the handler returned from: an empty response
// is a 200.
func (c *capture) finish() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
}
