// Command embeddedredis serves the embedded in-process Redis (miniredis, with
// real-time expiry) of the examples on a loopback port. It prints the address
// it listens on as its first line of output and runs until SIGINT or SIGTERM,
// or, with -exit-on-eof, until its standard input closes.
//
// The root module's test harness (internal/redistest) builds and starts it as
// a child process where redis-server is not installed, so the root module
// itself never imports miniredis:
//
//	go run ./examples/cmd/embeddedredis -addr 127.0.0.1:6380
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rediskit/rediskit/examples/internal/embedded"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0: a free port)")
	exitOnEOF := flag.Bool("exit-on-eof", false, "exit when standard input closes (for a parent process)")
	flag.Parse()

	srv, err := embedded.StartAddr(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embeddedredis:", err)
		os.Exit(1)
	}
	defer srv.Close()
	fmt.Println(srv.Addr())

	done := make(chan struct{})
	if *exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
	case <-done:
	}
}
