package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A server is what a child process runs: it serves HTTP on ln, including
// GET /healthz, until ctx ends.
type server func(ctx context.Context, ln net.Listener) error

// servers are the servers a child can run, by name; the child is this same
// program started as "bench serve-<name>".
var servers = map[string]server{}

const childPrefix = "serve-"

// childName returns the server a child was started to run, if args (the
// program's arguments after its name) start it as a child.
func childName(args []string) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	return strings.CutPrefix(args[0], childPrefix)
}

// runChild is the main function of a child: it serves on a free loopback
// port, tells the parent which by printing "listening on ADDR" as its first
// line, and stops on SIGINT or SIGTERM.
func runChild(name string, args []string) error {
	serve, ok := servers[name]
	if !ok {
		return fmt.Errorf("no server %q", name)
	}
	fs := flag.NewFlagSet(childPrefix+name, flag.ContinueOnError)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return serve(ctx, ln)
}

// child is a server running in a child process.
type child struct {
	cmd    *exec.Cmd
	addr   string // host:port
	stderr *lockedBuffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // set before exited is closed
}

// startChild starts server name in a child process and returns once it
// answers GET /healthz. The child dies with this process even if this one is
// killed (Linux parent-death signal).
func startChild(ctx context.Context, name string, opts StartOptions) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{childPrefix + name}
	if opts.CPUProfile != "" {
		args = append(args, "--cpuprofile", opts.CPUProfile)
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The child's first line names its address; if it exits first, the pipe
	// closes and the scan fails.
	first := bufio.NewScanner(stdout)
	if first.Scan() {
		if addr, ok := strings.CutPrefix(first.Text(), "listening on "); ok {
			c.addr = addr
		}
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	if c.addr == "" {
		_ = cmd.Process.Kill() // in case it runs but printed something else
		<-c.exited
		return nil, fmt.Errorf("server %s did not start: %v%s", name, c.err, c.stderr.tail())
	}
	if err := c.awaitHealthy(ctx); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

// awaitHealthy polls GET /healthz until it answers 200.
func (c *child) awaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("server exited before it was healthy: %v%s", c.err, c.stderr.tail())
		case <-ctx.Done():
			return fmt.Errorf("server at %s not healthy: %w (last: %v)", c.addr, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// stop asks the child to stop (SIGTERM, so it can write its profile), kills
// it if it has not exited within 10 s, and reports how it ended.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("server did not stop within 10s of SIGTERM; killed%s", c.stderr.tail())
	}
	if c.err != nil {
		return fmt.Errorf("server exited with %v%s", c.err, c.stderr.tail())
	}
	return nil
}

// lockedBuffer collects a child's stderr, to show with its errors.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last 2 KiB of the output, led by a newline, or nothing.
func (b *lockedBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if s == "" {
		return ""
	}
	return "\n" + s[max(0, len(s)-2048):]
}
