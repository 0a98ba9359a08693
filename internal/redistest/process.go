package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readyTimeout bounds how long a server may take to answer its first PING.
const readyTimeout = 10 * time.Second

// proc is one redis-server child process. It starts no goroutines: stdout and
// stderr go straight to a log file and the process is reaped only in stop.
type proc struct {
	dir     string   // working directory, holds the log and any config file
	port    int      // TCP (or TLS) port
	args    []string // full redis-server argument list
	tlsConf *tls.Config

	mu  sync.Mutex
	cmd *exec.Cmd // nil when stopped
}

// registry holds every live child so Main can stop whatever tests left behind.
var registry struct {
	sync.Mutex
	procs map[*proc]struct{}
}

func register(p *proc, live bool) {
	registry.Lock()
	defer registry.Unlock()
	if registry.procs == nil {
		registry.procs = make(map[*proc]struct{})
	}
	if live {
		registry.procs[p] = struct{}{}
	} else {
		delete(registry.procs, p)
	}
}

// stopAll stops every child still registered.
func stopAll() {
	registry.Lock()
	ps := make([]*proc, 0, len(registry.procs))
	for p := range registry.procs {
		ps = append(ps, p)
	}
	registry.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

func (p *proc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *proc) logPath() string { return filepath.Join(p.dir, "redis.log") }

// start launches the process and waits until it answers PING. On failure the
// process is stopped and the error carries the tail of the server log.
func (p *proc) start() error {
	log, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command("redis-server", p.args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	register(p, true)
	if err := p.waitReady(); err != nil {
		p.stop()
		return fmt.Errorf("redistest: redis-server on %s: %w\n--- log tail ---\n%s", p.addr(), err, p.logTail())
	}
	return nil
}

// stop kills the process and waits for it to exit. It is safe to call twice.
func (p *proc) stop() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	register(p, false)
}

// waitReady polls PING until the server answers with anything but -LOADING,
// the process dies, or readyTimeout passes.
func (p *proc) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if !p.alive() {
			return errors.New("process exited during startup")
		}
		reply, err := p.ping(200 * time.Millisecond)
		if err == nil && !strings.HasPrefix(reply, "-LOADING") {
			return nil
		}
		if err == nil {
			err = errors.New(reply)
		}
		last = err
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("no answer to PING within %v: %v", readyTimeout, last)
}

// ping sends one inline PING on a fresh connection and returns the reply line.
func (p *proc) ping(timeout time.Duration) (string, error) {
	d := &net.Dialer{Timeout: timeout}
	var c net.Conn
	var err error
	if p.tlsConf != nil {
		c, err = tls.DialWithDialer(d, "tcp", p.addr(), p.tlsConf)
	} else {
		c, err = d.Dial("tcp", p.addr())
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// alive reports whether the child is still running (not exited or a zombie).
func (p *proc) alive() bool {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return false
	}
	return !exited(cmd.Process.Pid)
}

// logTail returns the last lines of the server log.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// addrInUse reports whether a failed start was caused by a port taken by
// someone else between probing and binding.
func (p *proc) addrInUse() bool {
	return strings.Contains(p.logTail(), "Address already in use")
}

// baseArgs is the configuration every harness server shares.
func baseArgs(dir string, port int) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--loglevel", "notice",
	}
}

// freePort returns a port on 127.0.0.1 that was free a moment ago. With bus
// set, the port is below 55536 and port+10000 (the cluster bus) is free too.
func freePort(bus bool) (int, error) {
	for range 200 {
		port := 0
		if bus {
			port = 20000 + rand.IntN(55536-20000)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		port = l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("redistest: no free port found")
}

// startShared starts a shared harness server in a new directory below the
// binary's root directory.
func startShared(name string, bus bool, extra []string) (*proc, error) {
	dir, err := tempDir(name)
	if err != nil {
		return nil, err
	}
	return startProc(dir, bus, func(port int) ([]string, error) {
		return append(baseArgs(dir, port), extra...), nil
	}, nil)
}

// startProc starts a redis-server in dir with the arguments args returns for
// a probed port, retrying on a fresh port when another process took it.
func startProc(dir string, bus bool, args func(port int) ([]string, error), tlsConf *tls.Config) (*proc, error) {
	for attempt := 0; ; attempt++ {
		port, err := freePort(bus)
		if err != nil {
			return nil, err
		}
		p := &proc{dir: dir, port: port, tlsConf: tlsConf}
		if p.args, err = args(port); err != nil {
			return nil, err
		}
		err = p.start()
		if err == nil || attempt == 2 || !p.addrInUse() {
			return p, err
		}
	}
}
