package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: the kernel's USER_HZ, 100 on every
// Linux architecture Go supports.
const userHZ = 100

// procCPU reads the CPU time (user + system, every thread) a process has used, in seconds,
// from /proc/PID/stat; ok is false where it cannot (no such process, not Linux).
func procCPU(pid int) (seconds float64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s, err := parseProcStat(b)
	return s, err == nil
}

// parseProcStat reads utime and stime (fields 14 and 15) of a /proc/PID/stat line, in
// seconds. The command name (field 2) is in parentheses and may hold spaces and parentheses
// itself, so the fields are counted from the last ')'.
func parseProcStat(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no command name")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("/proc/PID/stat: too few fields")
	}
	var ticks uint64
	for _, s := range f[11:13] { // fields 14 and 15
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return float64(ticks) / userHZ, nil
}

// pidListening finds the process that listens on the TCP port of base, when base names this
// machine (loopback, localhost or an unspecified address); 0 when there is none, it is not
// ours to see, or this is not Linux.
func pidListening(base string) int {
	u, err := url.Parse(base)
	if err != nil {
		return 0
	}
	switch h := u.Hostname(); h {
	case "localhost", "":
	default:
		ip := net.ParseIP(h)
		if ip == nil || !(ip.IsLoopback() || ip.IsUnspecified()) {
			return 0
		}
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 80
		if u.Scheme == "https" {
			port = 443
		}
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if r, err := os.Open(f); err == nil {
			for _, ino := range listeningInodes(r, port) {
				inodes[ino] = true
			}
			r.Close()
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// listeningInodes returns the socket inodes of the lines of /proc/net/tcp (or tcp6) that
// listen (state 0A) on port.
func listeningInodes(r io.Reader, port int) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 32); !ok || err != nil || int(p) != port {
			continue
		}
		out = append(out, f[9])
	}
	return out
}
