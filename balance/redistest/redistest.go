// Package redistest starts real Redis servers for tests: a standalone server, a three-master
// Redis Cluster, and a primary/replica pair watched by three Sentinels, each on free loopback
// ports with its own temporary directory.
//
// Contracts:
//   - The binaries come from PATH: redis-server for every kind (Sentinels run as
//     `redis-server sentinel.conf --sentinel`) and redis-cli for StartCluster. If one is
//     missing the test fails (never skips) and says to run ./test.sh, which installs them.
//   - Every process is killed (SIGKILL) and waited for in t.Cleanup, whether the test passed or
//     not. Nothing persists: `--save "" --appendonly no`, and the directories are t.TempDir().
//   - Each process writes its stdout/stderr to a log file in its directory; a startup failure
//     reports the tail of that log in the t.Fatal message.
//   - Readiness is awaited by polling (PING, CLUSTER INFO, SENTINEL MASTER) with a bound, never
//     by fixed sleeps. The functions return only when the servers are ready to use.
//   - The functions call t.Fatal, so they must run on the test's own goroutine. They are safe
//     to call from parallel tests: each call owns its processes and ports.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which StartSentinel's Sentinels monitor the primary.
const MasterName = "gwmaster"

const (
	startTimeout   = 10 * time.Second // one process, until it answers PING
	clusterTimeout = 30 * time.Second // cluster create + every node reports cluster_state:ok
	sentinelWait   = 30 * time.Second // replica sync + Sentinels agreeing on the topology
	pollEvery      = 25 * time.Millisecond
	bindAttempts   = 5 // fresh ports tried when a server loses the race for its port
	logTailBytes   = 4096
)

// server is one running redis-server process.
type server struct {
	addr    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited and been waited for
}

// exited reports whether the process has already exited.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (if the process still runs) and waits until it has exited.
func (s *server) kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// logTail returns the last few KiB of the process's log, for failure messages.
func (s *server) logTail() string {
	return fileTail(s.logPath)
}

func fileTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// lookPath finds a Redis binary or fails the test with the remedy.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("redistest: %s not found on PATH (%v); run ./test.sh from the repository root, which installs Redis", name, err)
	}
	return p
}

// freePort returns a loopback TCP port that was free a moment ago. If withBus is set, the
// port is one whose Redis Cluster bus port (port+10000) exists and was free too.
func freePort(t testing.TB, withBus bool) int {
	t.Helper()
	var lastErr error
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			lastErr = err
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !withBus {
			_ = l.Close()
			return port
		}
		if port+10000 > 65535 {
			_ = l.Close()
			continue
		}
		bl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		_ = l.Close()
		if err != nil {
			lastErr = err
			continue
		}
		_ = bl.Close()
		return port
	}
	t.Fatalf("redistest: no free loopback port found: %v", lastErr)
	return 0
}

// spec describes one process to start.
type spec struct {
	what    string // for messages: "redis-server", "cluster node", "sentinel"...
	withBus bool   // the port needs a free cluster bus port too
	// args returns the command-line arguments for a process listening on port. It may write
	// files into dir (a Sentinel's configuration, which names its port).
	args func(dir string, port int) ([]string, error)
}

// startProcess starts one redis-server process as described by sp in a fresh temporary
// directory, retrying on fresh ports when it loses its port to someone else, and waits until
// it answers PING. The process is killed in t.Cleanup.
func startProcess(t testing.TB, sp spec) *server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	dir := t.TempDir() // before the kill cleanup below, so the kill runs first (LIFO)
	logPath := filepath.Join(dir, "redis.log")

	var lastTail string
	for attempt := 1; attempt <= bindAttempts; attempt++ {
		port := freePort(t, sp.withBus)
		args, err := sp.args(dir, port)
		if err != nil {
			t.Fatalf("redistest: preparing %s: %v", sp.what, err)
		}
		s, err := spawn(t, bin, args, dir, logPath, port)
		if err != nil {
			t.Fatalf("redistest: starting %s: %v", sp.what, err)
		}
		err = waitPing(s, startTimeout)
		if err == nil {
			return s
		}
		s.kill()
		lastTail = s.logTail()
		if s.exited() && bindFailure(lastTail) && attempt < bindAttempts {
			continue // someone took the port between our probe and the server's bind
		}
		t.Fatalf("redistest: %s on %s did not come up: %v\n--- tail of %s ---\n%s", sp.what, s.addr, err, logPath, lastTail)
	}
	t.Fatalf("redistest: %s could not bind a free port in %d attempts\n--- tail of %s ---\n%s", sp.what, bindAttempts, logPath, lastTail)
	return nil
}

// bindFailure reports whether a server log says that the server could not bind its port.
func bindFailure(tail string) bool {
	return strings.Contains(tail, "Address already in use") ||
		strings.Contains(tail, "Could not create server TCP listening socket")
}

// spawn starts the process with its output appended to logPath and registers its cleanup.
func spawn(t testing.TB, bin string, args []string, dir, logPath string, port int) (*server, error) {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "### %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	s := &server{
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:     dir,
		logPath: logPath,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	t.Cleanup(s.kill)
	return s, nil
}

// newClient returns a client for one node that fails fast, for polling.
func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   -1,
		PoolSize:     1,
	})
}

// poll calls check every pollEvery until it returns nil, the process in s (if any) exits, or
// the timeout passes; it returns the last error.
func poll(timeout time.Duration, s *server, check func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = check(ctx)
		cancel()
		if last == nil {
			return nil
		}
		if s != nil && s.exited() {
			return fmt.Errorf("process exited (last check: %v)", last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, last)
		}
		if s != nil {
			select {
			case <-tick.C:
			case <-s.done:
			}
		} else {
			<-tick.C
		}
	}
}

// waitPing waits until s answers PING. It probes the port with a plain dial first, so the
// client's pool never records dial failures (which would make it back off and log).
func waitPing(s *server, timeout time.Duration) error {
	c := newClient(s.addr)
	defer c.Close()
	var d net.Dialer
	return poll(timeout, s, func(ctx context.Context) error {
		conn, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return err
		}
		_ = conn.Close()
		return c.Ping(ctx).Err()
	})
}

// infoField returns the value of field in the text of INFO or CLUSTER INFO.
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// baseArgs are the arguments every data node gets.
func baseArgs(dir string, port int) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--logfile", "",
		"--daemonize", "no",
	}
}

// Start starts a standalone redis-server on a free loopback port and returns its address,
// "127.0.0.1:PORT". The server answers PING when Start returns; it is killed when the test
// ends.
func Start(t testing.TB) string {
	t.Helper()
	s := startProcess(t, spec{
		what: "redis-server",
		args: func(dir string, port int) ([]string, error) { return baseArgs(dir, port), nil },
	})
	return s.addr
}

// StartUnix starts a standalone redis-server that also listens on a Unix socket in its own
// temporary directory, and returns the socket's path. Like Start, it answers PING when
// StartUnix returns and is killed when the test ends.
func StartUnix(t testing.TB) string {
	t.Helper()
	var sock string
	startProcess(t, spec{
		what: "redis-server with a unix socket",
		args: func(dir string, port int) ([]string, error) {
			sock = filepath.Join(dir, "redis.sock")
			return append(baseArgs(dir, port), "--unixsocket", sock, "--unixsocketperm", "700"), nil
		},
	})
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1})
	defer c.Close()
	if err := poll(startTimeout, nil, func(ctx context.Context) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatalf("redistest: no answer on %s: %v", sock, err)
	}
	return sock
}

// StartCluster starts a real Redis Cluster of three masters (no replicas) on free loopback
// ports, joined with `redis-cli --cluster create`, and returns the three node addresses. When
// it returns, every node reports cluster_state:ok and all 16384 slots assigned. The nodes are
// killed when the test ends.
func StartCluster(t testing.TB) []string {
	t.Helper()
	cli := lookPath(t, "redis-cli")
	nodes := make([]*server, 3)
	addrs := make([]string, 3)
	for i := range nodes {
		nodes[i] = startProcess(t, spec{
			what:    fmt.Sprintf("cluster node %d", i),
			withBus: true,
			args: func(dir string, port int) ([]string, error) {
				return append(baseArgs(dir, port),
					"--cluster-enabled", "yes",
					"--cluster-config-file", "nodes.conf",
					"--cluster-node-timeout", "2000",
				), nil
			},
		})
		addrs[i] = nodes[i].addr
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create %s: %v\n%s\n%s", strings.Join(addrs, " "), err, out, nodeTails(nodes))
	}

	for _, n := range nodes {
		c := newClient(n.addr)
		err := poll(clusterTimeout, n, func(ctx context.Context) error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			state, assigned, known := infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"), infoField(info, "cluster_known_nodes")
			if state != "ok" || assigned != "16384" || infoField(info, "cluster_slots_ok") != "16384" || known != "3" {
				return fmt.Errorf("cluster_state:%s cluster_slots_assigned:%s cluster_known_nodes:%s", state, assigned, known)
			}
			return nil
		})
		_ = c.Close()
		if err != nil {
			t.Fatalf("redistest: cluster node %s: %v\nredis-cli said:\n%s\n%s", n.addr, err, out, nodeTails(nodes))
		}
	}
	return addrs
}

// nodeTails formats the log tails of several processes for a failure message.
func nodeTails(nodes []*server) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "--- tail of %s (%s) ---\n%s\n", n.logPath, n.addr, n.logTail())
	}
	return b.String()
}

// StartSentinel starts a primary, one replica of it, and three Sentinels monitoring it under
// MasterName ("gwmaster", quorum 2, down-after-milliseconds 1000, failover-timeout 3000), all
// on free loopback ports. It returns when the replica is in sync and every Sentinel sees the
// primary, the replica and the two other Sentinels, so a failover can proceed.
//
// It returns the master name, the primary's and replica's addresses, the Sentinels' addresses,
// and kill, which SIGKILLs the process (of those started here) listening on addr and waits for
// it to exit; kill fails the test for an unknown address. Everything is killed when the test
// ends.
func StartSentinel(t testing.TB) (master string, primary string, replica string, sentinels []string, kill func(addr string)) {
	t.Helper()
	prim := startProcess(t, spec{
		what: "sentinel primary",
		args: func(dir string, port int) ([]string, error) { return baseArgs(dir, port), nil },
	})
	_, pport, _ := net.SplitHostPort(prim.addr)
	repl := startProcess(t, spec{
		what: "sentinel replica",
		args: func(dir string, port int) ([]string, error) {
			return append(baseArgs(dir, port), "--replicaof", "127.0.0.1", pport), nil
		},
	})
	all := []*server{prim, repl}

	// The replica is in sync before any Sentinel starts, so the Sentinels' first INFO of the
	// primary lists it (otherwise they would learn of it only at their next 10 s refresh).
	rc := newClient(repl.addr)
	err := poll(sentinelWait, repl, func(ctx context.Context) error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if st := infoField(info, "master_link_status"); st != "up" || infoField(info, "master_sync_in_progress") != "0" {
			return fmt.Errorf("replica master_link_status:%s", st)
		}
		return nil
	})
	_ = rc.Close()
	if err != nil {
		t.Fatalf("redistest: replica %s of %s never synced: %v\n%s", repl.addr, prim.addr, err, nodeTails(all))
	}
	pc := newClient(prim.addr)
	err = poll(sentinelWait, prim, func(ctx context.Context) error {
		info, err := pc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if n := infoField(info, "connected_slaves"); n != "1" {
			return fmt.Errorf("primary connected_slaves:%s", n)
		}
		return nil
	})
	_ = pc.Close()
	if err != nil {
		t.Fatalf("redistest: primary %s never saw its replica: %v\n%s", prim.addr, err, nodeTails(all))
	}

	var sents []*server
	for i := range 3 {
		s := startProcess(t, spec{
			what: fmt.Sprintf("sentinel %d", i),
			args: func(dir string, port int) ([]string, error) {
				conf := filepath.Join(dir, "sentinel.conf")
				text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %q\nlogfile \"\"\n"+
					"sentinel monitor %s 127.0.0.1 %s 2\n"+
					"sentinel down-after-milliseconds %[3]s 1000\n"+
					"sentinel failover-timeout %[3]s 3000\n"+
					"sentinel parallel-syncs %[3]s 1\n",
					port, dir, MasterName, pport)
				if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
					return nil, err
				}
				return []string{conf, "--sentinel"}, nil
			},
		})
		sents = append(sents, s)
		sentinels = append(sentinels, s.addr)
	}
	all = append(all, sents...)

	for _, s := range sents {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.addr, DialTimeout: time.Second, MaxRetries: -1, PoolSize: 1})
		err := poll(sentinelWait, s, func(ctx context.Context) error {
			m, err := sc.Master(ctx, MasterName).Result()
			if err != nil {
				return err
			}
			if addr := net.JoinHostPort(m["ip"], m["port"]); addr != prim.addr {
				return fmt.Errorf("sentinel sees master at %s, want %s", addr, prim.addr)
			}
			if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("flags:%s num-slaves:%s num-other-sentinels:%s", m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
			reps, err := sc.Replicas(ctx, MasterName).Result()
			if err != nil {
				return err
			}
			if len(reps) != 1 || net.JoinHostPort(reps[0]["ip"], reps[0]["port"]) != repl.addr ||
				reps[0]["flags"] != "slave" || reps[0]["master-link-status"] != "ok" {
				return fmt.Errorf("sentinel replicas: %v", reps)
			}
			return nil
		})
		_ = sc.Close()
		if err != nil {
			t.Fatalf("redistest: sentinel %s never saw the topology: %v\n%s", s.addr, err, nodeTails(all))
		}
	}

	byAddr := make(map[string]*server, len(all))
	for _, s := range all {
		byAddr[s.addr] = s
	}
	kill = func(addr string) {
		t.Helper()
		s, ok := byAddr[addr] // read-only after this point: safe from any goroutine
		if !ok {
			t.Fatalf("redistest: kill(%q): no process of this StartSentinel listens there", addr)
		}
		s.kill()
	}
	return MasterName, prim.addr, repl.addr, sentinels, kill
}
