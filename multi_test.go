package main

// Several `gateway serve` processes on one store: the scale-out guarantees, tested on the
// real binary. Helpers here are shared with failover_test.go and scale_bench_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/policy/model"
)

// scRace reports whether this test binary was built with -race; the gateway binary
// the tests start is built the same way.
func scRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// scBuild builds this module's command into a temporary directory (with -race when the
// tests run with it) and returns the binary's path.
func scBuild(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	args := []string{"build", "-o", bin}
	if scRace() {
		args = append(args, "-race")
	}
	args = append(args, ".")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// scFreeAddr returns a loopback address whose port was free a moment ago.
func scFreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scInstance is one running `gateway serve` process.
type scInstance struct {
	name     string
	public   string // "http://127.0.0.1:PORT"
	operator string
	opToken  string
	logPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	exitErr  error
}

func (in *scInstance) logTail() string {
	b, _ := os.ReadFile(in.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

func (in *scInstance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// scStart starts `gateway serve` with the GATEWAY_* settings in env (listeners on free
// loopback ports are added; a value "" leaves a setting unset), waits until /readyz answers
// 200, and stops it in t.Cleanup (SIGTERM, then SIGKILL after 10s). A -race binary that
// reported a data race fails the test. It runs in a directory of its own, the log's.
func scStart(t testing.TB, bin, name string, env map[string]string) *scInstance {
	t.Helper()
	dir := t.TempDir()
	in := &scInstance{name: name, opToken: "op-" + name + "-token", logPath: filepath.Join(dir, "gateway.log"), done: make(chan struct{})}
	pub, op := scFreeAddr(t), scFreeAddr(t)
	in.public, in.operator = "http://"+pub, "http://"+op
	vars := map[string]string{
		"GATEWAY_LISTEN":          pub,
		"GATEWAY_OPERATOR_LISTEN": op,
		"GATEWAY_OPERATOR_TOKEN":  in.opToken,
		"GATEWAY_STORE_DATA_DIR":  filepath.Join(dir, "data"),
		"GATEWAY_LOG_LEVEL":       "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	if tok, ok := env["GATEWAY_OPERATOR_TOKEN"]; ok {
		in.opToken = tok
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		if v != "" {
			environ = append(environ, k+"="+v)
		}
	}
	logf, err := os.Create(in.logPath)
	if err != nil {
		t.Fatal(err)
	}
	in.cmd = exec.Command(bin, "serve")
	in.cmd.Dir = dir
	in.cmd.Env = environ
	in.cmd.Stdout, in.cmd.Stderr = logf, logf
	if err := in.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() {
		in.exitErr = in.cmd.Wait()
		logf.Close()
		close(in.done)
	}()
	t.Cleanup(func() {
		if !in.exited() {
			_ = in.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-in.done:
			case <-time.After(10 * time.Second):
				_ = in.cmd.Process.Kill()
				<-in.done
			}
		}
		if tail := in.logTail(); strings.Contains(tail, "WARNING: DATA RACE") {
			t.Errorf("%s: the gateway reported a data race:\n%s", in.name, tail)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(in.operator + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in
			}
		}
		if in.exited() {
			t.Fatalf("%s exited before it was ready (%v):\n%s", name, in.exitErr, in.logTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 30s (last: %v):\n%s", name, err, in.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scClient is an HTTP client with keep-alive connections for the tests' load.
var scClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
}

// scReply is an answer of the gateway.
type scReply struct {
	status int
	header http.Header
	body   []byte
	code   string // error.code of an error body
}

// scCreds are an account's credentials.
type scCreds struct{ id, tok string }

// scSend makes one request: Basic auth with c when c.id != "", Bearer op when op != "".
func scSend(t testing.TB, method, url string, c scCreds, op string, body any) (scReply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.id != "" {
		req.SetBasicAuth(c.id, c.tok)
	}
	if op != "" {
		req.Header.Set("Authorization", "Bearer "+op)
	}
	resp, err := scClient.Do(req)
	if err != nil {
		return scReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return scReply{}, err
	}
	r := scReply{status: resp.StatusCode, header: resp.Header, body: b}
	if r.status >= 400 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		r.code = e.Error.Code
	}
	return r, nil
}

// scMust is scSend that fails the test on a transport error or an unexpected status.
func scMust(t testing.TB, want int, method, url string, c scCreds, op string, body any) map[string]any {
	t.Helper()
	r, err := scSend(t, method, url, c, op, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, r.status, r.body, want)
	}
	var m map[string]any
	if len(r.body) > 0 && r.body[0] == '{' {
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return m
}

// scNewMain creates a main account through in's operator API and credits it.
func scNewMain(t testing.TB, in *scInstance, rate int, credit string) scCreds {
	t.Helper()
	m := scMust(t, 201, "POST", in.operator+"/admin/v1/Account/", scCreds{}, in.opToken,
		map[string]any{"name": "scale", "rate_limit": rate})
	c := scCreds{id: m["auth_id"].(string), tok: m["auth_token"].(string)}
	if credit != "" {
		scMust(t, 201, "POST", in.operator+"/admin/v1/Account/"+c.id+"/Credit/", scCreds{}, in.opToken,
			map[string]any{"amount": credit, "reference": "test"})
	}
	return c
}

// scNewSub creates a subaccount of parent through in's public API.
func scNewSub(t testing.TB, in *scInstance, parent scCreds, rate int) scCreds {
	t.Helper()
	m := scMust(t, 201, "POST", in.public+"/v1/Account/"+parent.id+"/Subaccount/", parent, "",
		map[string]any{"name": "scale-sub", "rate_limit": rate})
	return scCreds{id: m["auth_id"].(string), tok: m["auth_token"].(string)}
}

// scBalance reads the billing balance of c in micro-units through in.
func scBalance(t testing.TB, in *scInstance, c scCreds) model.Amount {
	t.Helper()
	m := scMust(t, 200, "GET", in.public+"/v1/Account/"+c.id+"/Balance/", c, "", nil)
	a, err := model.ParseAmount(m["balance"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// scNumbers numbers the phone numbers scNumber hands out: unique in the test process.
var scNumbers atomic.Int64

// scNumber gives owner a phone number of its own: the operator adds a new number to main's
// inventory through in, and main moves it to owner when owner is below it. It returns the
// number, for a route's caller-ID field (the default routes': "from" of a call, "src" of a
// message).
func scNumber(t testing.TB, in *scInstance, main, owner scCreds) string {
	t.Helper()
	n := fmt.Sprintf("+1555%07d", scNumbers.Add(1))
	scMust(t, 201, "POST", in.operator+"/admin/v1/Account/"+main.id+"/Number/", scCreds{}, in.opToken, map[string]any{"number": n})
	if owner.id != main.id {
		scMust(t, 200, "POST", in.public+"/v1/Account/"+main.id+"/Number/"+n+"/", main, "", map[string]any{"auth_id": owner.id})
	}
	return n
}

// scSMS is the body of a message from src, the default message route's caller-ID field.
func scSMS(src string) map[string]string {
	return map[string]string{"src": src, "dst": "+15550100", "text": "hi"}
}

func scSMSURL(in *scInstance, id string) string { return in.public + "/v1/Account/" + id + "/Message/" }

// scCharge reads X-Charge of an answer.
func scCharge(t testing.TB, r scReply) model.Amount {
	t.Helper()
	a, err := model.ParseAmount(r.header.Get("X-Charge"))
	if err != nil {
		t.Fatalf("X-Charge %q: %v", r.header.Get("X-Charge"), err)
	}
	return a
}

// TestMultiInstance: three gateway processes on one Redis Cluster behave as one gateway.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, starts a Redis Cluster and three gateways")
	}
	bin := scBuild(t)
	nodes := redistest.StartCluster(t)
	env := map[string]string{"GATEWAY_STORE_CLUSTER": strings.Join(nodes, ",")}
	var ins []*scInstance
	for i := range 3 {
		ins = append(ins, scStart(t, bin, fmt.Sprintf("gw%d", i), env))
	}
	a, b := ins[0], ins[1]

	t.Run("rate limits are global", func(t *testing.T) {
		// GCRA in the admit script, on the store's clock: rate N per second, burst N. An
		// account untouched before t0 admits at most N + floor((t-t0)/T) requests in
		// [t0, t], T = ceil(1e6/N) µs. Measured client-side, the window only grows, so
		// the bound holds with the client's elapsed time. Per-instance limiters would admit
		// up to three times as much.
		const N, workersPer, hammer = 20, 4, 500 * time.Millisecond
		T := time.Duration(math.Ceil(1e6/N)) * time.Microsecond
		m := scNewMain(t, a, 1000, "100.00")
		sub := scNewSub(t, a, m, N)
		src := scNumber(t, a, m, sub)
		before := scBalance(t, a, m)
		var admitted, limited atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		stop := start.Add(hammer)
		for _, in := range ins {
			for range workersPer {
				wg.Go(func() {
					for time.Now().Before(stop) {
						r, err := scSend(t, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
						if err != nil {
							t.Error(err)
							return
						}
						switch {
						case r.status/100 == 2:
							admitted.Add(1)
						case r.status == 429 && r.code == "RATE_LIMITED":
							limited.Add(1)
						default:
							t.Errorf("%s: %d %s", in.name, r.status, r.body)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		elapsed := time.Since(start)
		bound := int64(N) + int64(elapsed/T)
		t.Logf("%d admitted, %d rate-limited in %v across %d instances; bound %d", admitted.Load(), limited.Load(), elapsed.Round(time.Millisecond), len(ins), bound)
		if admitted.Load() > bound {
			t.Fatalf("admitted %d > N + floor(elapsed/T) = %d: the limit is not global", admitted.Load(), bound)
		}
		if admitted.Load() < N {
			t.Fatalf("admitted %d < the burst %d", admitted.Load(), N)
		}
		if limited.Load() == 0 {
			t.Fatal("nothing was rate-limited: the hammer was too weak to test anything")
		}
		price, _ := model.ParseAmount("0.005")
		if spent := before - scBalance(t, b, m); spent != model.Amount(admitted.Load())*price {
			t.Fatalf("spent %v for %d admitted requests at %v", spent, admitted.Load(), price)
		}
	})

	t.Run("money is never overspent", func(t *testing.T) {
		const K = 50 // the balance covers exactly K messages at 0.005
		m := scNewMain(t, a, 1000000, "0.25")
		sub := scNewSub(t, a, m, 1000000)
		src := scNumber(t, a, m, sub)
		var admitted atomic.Int64
		var charged atomic.Int64
		var wg sync.WaitGroup
		for _, in := range ins {
			for range 6 {
				wg.Go(func() {
					refusals := 0
					for range 60 {
						r, err := scSend(t, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
						if err != nil {
							t.Error(err)
							return
						}
						switch {
						case r.status/100 == 2:
							admitted.Add(1)
							charged.Add(int64(scCharge(t, r)))
						case r.status == 402 && r.code == "INSUFFICIENT_BALANCE":
							if refusals++; refusals == 3 {
								return
							}
						default:
							t.Errorf("%s: %d %s", in.name, r.status, r.body)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		final := scBalance(t, ins[2], m)
		if admitted.Load() != K || final != 0 || charged.Load() != 250_000 {
			t.Fatalf("admitted %d (want %d), charged %v (want 0.25), final balance %v (want 0.00)",
				admitted.Load(), K, model.Amount(charged.Load()), final)
		}
	})

	t.Run("suspension through A is enforced by B on the next request", func(t *testing.T) {
		m := scNewMain(t, a, 1000, "10.00")
		sub := scNewSub(t, a, m, 1000)
		src := scNumber(t, a, m, sub)
		for _, in := range ins { // every scInstance has the account cached
			scMust(t, 202, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
		}
		scMust(t, 200, "POST", a.public+"/v1/Account/"+m.id+"/Subaccount/"+sub.id+"/", m, "", map[string]any{"status": "suspended"})
		for _, in := range ins[1:] {
			r, err := scSend(t, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
			if err != nil || r.status != 403 || r.code != "ACCOUNT_SUSPENDED" {
				t.Fatalf("%s right after the suspension: %d %s %v", in.name, r.status, r.body, err)
			}
		}
		scMust(t, 200, "POST", a.public+"/v1/Account/"+m.id+"/Subaccount/"+sub.id+"/", m, "", map[string]any{"status": "active"})
		scMust(t, 202, "POST", scSMSURL(b, sub.id), sub, "", scSMS(src))
	})

	t.Run("rotation with grace 0 through A is enforced by B on the next request", func(t *testing.T) {
		m := scNewMain(t, a, 1000, "10.00")
		sub := scNewSub(t, a, m, 1000)
		src := scNumber(t, a, m, sub)
		for _, in := range ins {
			scMust(t, 202, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
		}
		before := scBalance(t, a, m)
		rot := scMust(t, 201, "POST", a.public+"/v1/Account/"+m.id+"/Subaccount/"+sub.id+"/Token/", m, "", map[string]any{"grace_seconds": 0})
		rotated := time.Now()
		for _, in := range ins[1:] {
			r, err := scSend(t, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
			if err != nil || r.status != 401 || r.code != "INVALID_CREDENTIALS" {
				t.Fatalf("%s: the revoked token right after the rotation: %d %s %v", in.name, r.status, r.body, err)
			}
		}
		if after := scBalance(t, a, m); after != before {
			t.Fatalf("refused requests were charged: %v → %v", before, after)
		}
		// The new token: within a second on every instance (pub/sub invalidation).
		fresh := scCreds{id: sub.id, tok: rot["auth_token"].(string)}
		for _, in := range ins[1:] {
			for {
				r, err := scSend(t, "POST", scSMSURL(in, sub.id), fresh, "", scSMS(src))
				if err != nil {
					t.Fatal(err)
				}
				if r.status == 202 {
					break
				}
				if time.Since(rotated) > time.Second {
					t.Fatalf("%s: the new token still refused %v after the rotation: %d %s", in.name, time.Since(rotated), r.status, r.body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		t.Logf("new token accepted everywhere %v after the rotation", time.Since(rotated).Round(time.Millisecond))
	})

	t.Run("a new subaccount's token works at once on every instance", func(t *testing.T) {
		m := scNewMain(t, a, 1000, "10.00")
		for range 3 {
			sub := scNewSub(t, ins[2], m, 1000)
			src := scNumber(t, a, m, sub)
			for _, in := range ins {
				scMust(t, 202, "POST", scSMSURL(in, sub.id), sub, "", scSMS(src))
			}
		}
	})
}
