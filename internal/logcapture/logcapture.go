// Package logcapture lets a test read what the code under test logged
// through slog.Default() or the log package.
package logcapture

import (
	"bytes"
	"log"
	"log/slog"
	"sync"
	"testing"
)

// Buffer holds captured log output; it is safe for concurrent writes.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start sends slog.Default() (text format) to a Buffer until t ends, then
// restores it and the log package's output and flags. slog.Default is
// process-wide, so t must not run in parallel with tests that log.
func Start(t testing.TB) *Buffer {
	t.Helper()
	b := &Buffer{}
	old, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(b, nil)))
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
	return b
}
