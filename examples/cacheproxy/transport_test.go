package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// rawOrigin serves canned raw HTTP/1.1 responses by request path on
// 127.0.0.1, keeping connections open between requests unless the response
// closes them. It counts the connections it accepted.
func rawOrigin(t *testing.T, responses map[string]string) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					raw, ok := responses[req.URL.Path]
					if !ok {
						raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
					}
					if req.Method == http.MethodHead { // the canned HEAD responses carry no body
						raw, _, _ = strings.Cut(raw, "\r\n\r\n")
						raw += "\r\n\r\n"
					}
					if _, err := io.WriteString(c, raw); err != nil || strings.Contains(raw, "X-Close: 1") {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

func TestOriginTransportFraming(t *testing.T) {
	t.Parallel()
	addr, conns := rawOrigin(t, map[string]string{
		"/length":   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"/chunked":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n",
		"/empty":    "HTTP/1.1 204 No Content\r\n\r\n",
		"/early":    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/unknown":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: x-custom\r\nContent-Length: 3\r\nX-Close: 1\r\n\r\nraw body until close",
		"/identity": "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nX-Close: 1\r\n\r\nidentity body",
		"/gzip":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nX-Close: 1\r\n\r\n\x1f\x8bcoded",
	})
	client := &http.Client{Transport: newOriginTransport()}
	defer client.CloseIdleConnections()
	cases := []struct {
		method, path string
		status       int
		body         string
		header       map[string]string
	}{
		{"GET", "/length", 200, "hello", nil},
		{"HEAD", "/length", 200, "", map[string]string{"Content-Length": "5"}},
		{"GET", "/chunked", 200, "hello", map[string]string{"X-A": "1"}},
		{"GET", "/empty", 204, "", nil},
		{"GET", "/early", 200, "ok", nil},
		{"GET", "/length", 200, "hello", nil},
		{"GET", "/unknown", 200, "raw body until close", map[string]string{"Transfer-Encoding": "", "Content-Length": ""}},
		{"GET", "/identity", 200, "identity body", nil},
		{"GET", "/length", 200, "hello", nil},
	}
	for i, tc := range cases {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%d %s %s: got %v, want a response", i, tc.method, tc.path, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != tc.status || string(b) != tc.body {
			t.Errorf("%d %s %s: got %d %q (%v), want %d %q", i, tc.method, tc.path, res.StatusCode, b, err, tc.status, tc.body)
		}
		for k, v := range tc.header {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%d %s %s: header %s: got %q, want %q", i, tc.method, tc.path, k, got, v)
			}
		}
	}
	// The first six exchanges share one connection; the two close-delimited
	// responses end theirs, so the last request needs a third.
	if got := conns.Load(); got != 3 {
		t.Errorf("connections: got %d, want 3 (kept alive across framed responses)", got)
	}
	// A coding that changes the bytes is never passed on as a plain body
	// (it would be stored and served as such): Go's error, a 502 upstream.
	req, _ := http.NewRequest("GET", "http://"+addr+"/gzip", nil)
	if res, err := client.Do(req); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Errorf("GET /gzip: got %d %q, want an error (gzip transfer coding not decoded)", res.StatusCode, b)
	}
}

func TestChunkScan(t *testing.T) {
	t.Parallel()
	body := "4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nA: b\r\n\r\n"
	for split := 0; split <= len(body); split++ {
		var k chunks
		n1, done1, ok1 := k.scan([]byte(body[:split]))
		n2, done2, ok2 := k.scan([]byte(body[split:]))
		if !ok1 || !ok2 || done1 && split < len(body) || !done2 && split < len(body) || n1+n2 != len(body) {
			t.Errorf("split %d: got n %d+%d done %v/%v ok %v/%v, want the whole body framed", split, n1, n2, done1, done2, ok1, ok2)
		}
	}
	var k chunks
	if _, _, ok := k.scan([]byte("zz\r\n")); ok {
		t.Errorf("scan(invalid size): got ok, want not ok")
	}
}
