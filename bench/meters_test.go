package bench

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// utime 1234 and stime 566 ticks (fields 14, 15), a command name with spaces and ')'.
	line := "4242 (gate way) (x)) S 1 4242 4242 0 -1 4194560 2 0 0 0 1234 566 0 0 20 0 9 0 100 1000 10 18446744073709551615\n"
	s, err := parseProcStat([]byte(line))
	if err != nil || s != 18.0 {
		t.Errorf("parseProcStat = %v, %v; want 18 s (1800 ticks at 100 Hz)", s, err)
	}
	for _, bad := range []string{"4242 gateway S 1", "4242 (g) S 1 2 3", "4242 (g) S 1 2 3 4 5 6 7 8 9 10 x 5 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
	if runtime.GOOS == "linux" {
		if s, ok := procCPU(os.Getpid()); !ok || s < 0 {
			t.Errorf("procCPU(self) = %v, %v", s, ok)
		}
	}
	if _, ok := procCPU(-1); ok {
		t.Error("procCPU(-1) ok")
	}
}

func TestListeningInodes(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1
   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0
`
	got := listeningInodes(strings.NewReader(tcp), 8080)
	if len(got) != 1 || got[0] != "111" {
		t.Errorf("listeningInodes(8080) = %v, want [111] (the established connection is not listening)", got)
	}
	if got := listeningInodes(strings.NewReader(tcp), 8081); len(got) != 1 || got[0] != "333" {
		t.Errorf("listeningInodes(8081) = %v, want [333]", got)
	}
	if runtime.GOOS == "linux" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if pid := pidListening("http://" + ln.Addr().String()); pid != os.Getpid() {
			t.Errorf("pidListening(own listener) = %d, want %d", pid, os.Getpid())
		}
	}
	if pid := pidListening("http://192.0.2.1:80"); pid != 0 {
		t.Errorf("pidListening(a remote host) = %d, want 0", pid)
	}
}

func TestParseRedisInfo(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n\r\n" +
		"# Commandstats\r\ncmdstat_evalsha:calls=100,usec=2500,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_eval:calls=2,usec=100,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=7,usec=70,usec_per_call=10.00\r\n# Memory\r\nused_memory:123456\r\nused_memory_human:120.56K\r\n"
	s := parseRedisInfo(info)
	if !s.ok || s.cpu != 3.75 || s.scriptCalls != 102 || s.scriptMicros != 2600 || s.memory != 123456 {
		t.Errorf("parseRedisInfo = %+v", s)
	}
	if s := parseRedisInfo("# Memory\r\nused_memory:1\r\n"); s.ok {
		t.Errorf("no CPU section: ok %+v", s)
	}

	// Per request: 200 requests over the difference of two readings.
	m := &meters{procs: []meteredProc{{name: "gateway", pid: 7}, {name: "bare proxy", pid: 8}}}
	before := reading{procs: []float64{10, -1}, redis: s}
	after := reading{procs: []float64{10.01, 3}, redis: redisSample{cpu: 3.752, scriptCalls: 112, scriptMicros: 2900, ok: true}}
	procs, r := after.since(before, m).figures(200)
	if len(procs) != 1 || procs[0].Name != "gateway" || procs[0].PID != 7 || !near(procs[0].PerRequest, 50) {
		t.Errorf("processes %+v, want the gateway at 50 µs a request and no unreadable bare proxy", procs)
	}
	if r == nil || !near(r.PerRequest, 10) || r.ScriptCalls != 10 || !near(r.ScriptsPerRequest, 0.05) || !near(r.ScriptMicrosPerCall, 30) {
		t.Errorf("Redis %+v, want 10 µs a request, 10 calls, 0.05 a request, 30 µs a call", r)
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

func TestTenantFlags(t *testing.T) {
	for _, args := range [][]string{{"--tenants", "0"}, {"--subs", "-1"}, {"--seed-concurrency", "0"},
		{"--rounds", "2"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 2 {
			t.Errorf("Main(%q) = %d, want 2; stderr %s", args, code, stderr.String())
		}
	}
	o, _, _, code := parseFlags([]string{"--tenants", "100", "--subs", "10", "--bare", "http://b", "--rounds", "3"}, &bytes.Buffer{})
	if code != -1 || o.Tenants != 100 || o.Subs != 10 || o.Bare != "http://b" || o.Rounds != 3 {
		t.Errorf("%+v (code %d)", o, code)
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--auth-id", "SA_X", "--auth-token", "t", "--subs", "2", "-n", "1"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "not with --auth-id") {
		t.Errorf("--subs with --auth-id: exit %d, %s", code, stderr.String())
	}
	if code := Main([]string{"proxy"}, &stdout, &stderr); code != 2 {
		t.Errorf("proxy without --upstream: exit %d", code)
	}
}
