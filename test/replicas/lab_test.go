//go:build netns

package replicas

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lab is a bridge on the host with one network namespace per replica,
// each joined to it by a veth pair. The host's side of the bridge has
// hostIP; namespace i has nsIP[i]. Names carry the test process's pid, so
// concurrent runs do not meet, and a run killed before its cleanup is
// cleaned up by the next one.
type lab struct {
	bridge string
	hostIP string
	ns     []string // namespace names
	veth   []string // the host's end of each namespace's veth pair
	nsIP   []string
}

const labPrefix = "ebr"

// newLab creates the bridge and n namespaces, and removes them all when the
// test ends. Under CI=true a machine that cannot create them fails the
// test; elsewhere it skips.
func newLab(t *testing.T, n int) *lab {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		missing(t, "the replica test needs root and iproute2's ip to create network namespaces")
	}
	removeStaleLabs(t)
	pid := os.Getpid()
	id := strconv.Itoa(pid % 100000)
	// 10.X.Y.0/24 from the pid: distinct for concurrent runs on one host.
	subnet := fmt.Sprintf("10.%d.%d", 100+pid%100, (pid/100)%250)
	l := &lab{bridge: labPrefix + id, hostIP: subnet + ".1"}
	t.Cleanup(func() { l.remove(t) })
	if err := ip("link", "add", l.bridge, "type", "bridge"); err != nil {
		missing(t, "cannot create a bridge: "+err.Error())
	}
	must(t, ip("addr", "add", l.hostIP+"/24", "dev", l.bridge))
	must(t, ip("link", "set", l.bridge, "up"))
	for i := range n {
		ns := fmt.Sprintf("%s-%s-%d", labPrefix, id, i)
		host, inner := fmt.Sprintf("%s%sh%d", labPrefix, id, i), fmt.Sprintf("%s%sn%d", labPrefix, id, i)
		addr := fmt.Sprintf("%s.%d", subnet, 11+i)
		if err := ip("netns", "add", ns); err != nil {
			missing(t, "cannot create a network namespace: "+err.Error())
		}
		l.ns, l.veth, l.nsIP = append(l.ns, ns), append(l.veth, host), append(l.nsIP, addr)
		must(t, ip("link", "add", host, "type", "veth", "peer", "name", inner))
		must(t, ip("link", "set", inner, "netns", ns))
		must(t, ip("link", "set", host, "master", l.bridge))
		must(t, ip("link", "set", host, "up"))
		must(t, ip("-n", ns, "addr", "add", addr+"/24", "dev", inner))
		must(t, ip("-n", ns, "link", "set", inner, "up"))
		must(t, ip("-n", ns, "link", "set", "lo", "up"))
	}
	return l
}

// cut takes namespace i off the network (its veth's host end goes down);
// heal brings it back.
func (l *lab) cut(t *testing.T, i int)  { must(t, ip("link", "set", l.veth[i], "down")) }
func (l *lab) heal(t *testing.T, i int) { must(t, ip("link", "set", l.veth[i], "up")) }

// command runs name args... inside namespace i.
func (l *lab) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns[i], name}, args...)...)
}

// remove deletes the namespaces (their veth pairs go with them) and the
// bridge.
func (l *lab) remove(t *testing.T) {
	for _, ns := range l.ns {
		if err := ip("netns", "del", ns); err != nil {
			t.Errorf("removing namespace %s: %v", ns, err)
		}
	}
	if err := ip("link", "del", l.bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		t.Errorf("removing bridge %s: %v", l.bridge, err)
	}
}

// removeStaleLabs removes the namespaces and bridges of runs whose process
// is gone (killed before its cleanup ran).
func removeStaleLabs(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for line := range strings.Lines(string(out)) {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		parts := strings.Split(name, "-")
		if len(parts) != 3 || parts[0] != labPrefix || alive(parts[1]) {
			continue
		}
		t.Logf("removing namespace %s of a run that is gone", name)
		_ = ip("netns", "del", name)
		_ = ip("link", "del", labPrefix+parts[1])
	}
}

// alive reports whether a process whose pid ends in the digits id (the pid
// modulo 100000) runs.
func alive(id string) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && strconv.Itoa(pid%100000) == id {
			return true
		}
	}
	return false
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// missing fails the test under CI=true, where the replica test must run,
// and skips it elsewhere.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// forward relays TCP connections from listenIP (a port of its choice) to
// target, until the test ends, and returns the address it listens on. The
// brokers listen on the host's loopback only, which a namespace cannot
// reach: the replicas reach them through this relay on the bridge's
// address. A replica's connections pass its veth, so cutting the veth cuts
// them, as a real network fault would.
func forward(t *testing.T, listenIP, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		conns[c] = true
		return true
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				var d net.Dialer
				out, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					in.Close()
					return
				}
				if !track(in) || !track(out) {
					in.Close()
					out.Close()
					return
				}
				var pair sync.WaitGroup
				relay := func(dst, src net.Conn) {
					_, _ = io.Copy(dst, src)
					// One direction ended: end both, as the peer did.
					dst.Close()
					src.Close()
				}
				pair.Go(func() { relay(out, in) })
				pair.Go(func() { relay(in, out) })
				pair.Wait()
				mu.Lock()
				delete(conns, in)
				delete(conns, out)
				mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		cancel()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
