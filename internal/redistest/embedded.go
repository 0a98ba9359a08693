package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The embedded fallback. Where redis-server is not installed, standalone tests
// run on the examples' embedded Redis (miniredis with real-time expiry). The
// root module does not import miniredis: the harness builds the examples
// module's command github.com/rediskit/rediskit/examples/cmd/embeddedredis
// once per test binary (go build, from this checkout's examples/ directory,
// outside any workspace) and runs it as a child process.

// embeddedPkg is the command the fallback builds, relative to examples/.
const embeddedPkg = "./cmd/embeddedredis"

// embeddedBinary builds the command once per test binary.
var embeddedBinary = sync.OnceValues(func() (string, error) {
	examples, err := examplesDir()
	if err != nil {
		return "", err
	}
	dir, err := tempDir("embeddedredis")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "embeddedredis")
	cmd := exec.Command("go", "build", "-o", bin, embeddedPkg)
	cmd.Dir = examples
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("redistest: build the embedded Redis (go build %s in %s): %v\n%s", embeddedPkg, examples, err, out)
	}
	return bin, nil
})

// examplesDir finds the examples module of this checkout: the directory
// examples/ beside the go.mod of github.com/rediskit/rediskit, found by
// walking up from the working directory (a test runs in its package's
// directory).
func examplesDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == "github.com/rediskit/rediskit" {
			ex := filepath.Join(dir, "examples")
			if _, err := os.Stat(filepath.Join(ex, "go.mod")); err != nil {
				return "", fmt.Errorf("redistest: no examples module at %s (it holds the embedded Redis): %w", ex, err)
			}
			return ex, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("redistest: the rediskit checkout (go.mod of github.com/rediskit/rediskit) is not above the working directory; the embedded Redis is built from its examples module")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for line := range bytes.Lines(gomod) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("module ")); ok {
			return strings.Trim(string(bytes.TrimSpace(rest)), `"`)
		}
	}
	return ""
}

// embeddedProc is one running embedded Redis child process. It exits when
// its standard input closes (stop, or this process dying) and, on Linux, is
// killed with its parent.
type embeddedProc struct {
	addr  string
	stdin io.WriteCloser
	cmd   *exec.Cmd
	once  sync.Once
}

// embeddedProcs holds every live child so cleanup can stop them.
var embeddedProcs struct {
	sync.Mutex
	ps []*embeddedProc
}

// startEmbedded builds (once) and starts an embedded Redis child process on a
// free loopback port.
func startEmbedded() (*embeddedProc, error) {
	bin, err := embeddedBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-exit-on-eof")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: start the embedded Redis: %w", err)
	}
	p := &embeddedProc{stdin: stdin, cmd: cmd}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.addr = <-line:
	case <-time.After(readyTimeout):
	}
	if p.addr == "" {
		p.stop()
		return nil, errors.New("redistest: the embedded Redis printed no address")
	}
	embeddedProcs.Lock()
	embeddedProcs.ps = append(embeddedProcs.ps, p)
	embeddedProcs.Unlock()
	return p, nil
}

// stop closes the child's standard input, which makes it exit, and waits for
// it (killing it after a few seconds). It is idempotent.
func (p *embeddedProc) stop() {
	p.once.Do(func() {
		_ = p.stdin.Close()
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	})
}

func stopEmbedded() {
	embeddedProcs.Lock()
	ps := embeddedProcs.ps
	embeddedProcs.ps = nil
	embeddedProcs.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// StartEmbedded starts an embedded Redis child process, as the standalone
// fallback does, and returns its address and a func that stops it (also
// stopped by Main). It fails t when the command cannot be built or started.
func StartEmbedded(t testing.TB) (addr string, stop func()) {
	t.Helper()
	p, err := startEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	return p.addr, p.stop
}
