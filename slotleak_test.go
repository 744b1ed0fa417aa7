package main

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// startAOFRedis starts (or restarts) a redis-server on addr keeping its data in dir with an
// append-only file fsynced on every write, and waits until it answers PING.
func startAOFRedis(t *testing.T, dir, addr string) *exec.Cmd {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", host, "--dir", dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	waitUntil(t, 20*time.Second, "redis-server answers", func() bool { return c.Ping(context.Background()).Err() == nil })
	return cmd
}

// TestNoSlotLeak: a call's slots cannot outlive its hold. A gateway process (the real
// binary) admits a call — its hold and a slot on every account of the chain are written —
// and is killed with SIGKILL while the upstream still holds the call, so no answer, no Void
// and no Settle ever comes; then Redis itself is killed and restarted on its append-only
// file. No gateway (so no reaper) runs afterwards. Once the hold's lifetime (ring_timeout +
// granted seconds + expiry_grace, here 1 + 2 + 1 s) has passed, every account of the chain
// counts no active call, and a new call on accounts whose max_concurrent_calls is 1 is
// admitted; a reaper pass then expires the hold (on_expiry commit: its granted seconds are
// charged) and nothing is held.
func TestNoSlotLeak(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is needed: ", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway-bin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.Mkdir(rdir, 0o700); err != nil {
		t.Fatal(err)
	}
	raddr := restartFreePort(t)
	rcmd := startAOFRedis(t, rdir, raddr)

	// the upstream takes the call and never answers: the gateway is killed meanwhile
	reached := make(chan string, 1)
	release := make(chan struct{})
	defer close(release)
	upLn, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.Header.Get("X-Call-Hold-ID")
		<-release
	})}
	go up.Serve(upLn) //nolint:errcheck
	defer up.Close()

	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`upstreams:
  voice: {url: "http://`+upLn.Addr().String()+`", timeout: 60s}
routes:
  - method: POST
    path: "/v1/Account/{auth_id}/Call/"
    upstream: voice
    permission: calls
    price: "0.0100"
    call: {rate: "0.6000", increment: "1/1", grant: 2s, min_duration: 1s, max_duration: 2s, ring_timeout: 1s, expiry_grace: 1s, on_expiry: commit}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	st, err := balance.Open(ctx, balance.Options{Redis: "redis://" + raddr + "/0", ReadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := testkit.NewAccount(t, st, nil, "1.00", testkit.MaxCalls(1))
	r := testkit.NewAccount(t, st, m, "", testkit.MaxCalls(1))
	c := testkit.NewAccount(t, st, r, "", testkit.MaxCalls(1))
	chain := []*testkit.Account{c, r, m}

	pub, ops := restartFreePort(t), restartFreePort(t)
	gw := exec.Command(bin, "serve", "--config", cfg)
	gw.Dir = dir
	gw.Env = append(os.Environ(), "GATEWAY_LISTEN="+pub, "GATEWAY_OPERATOR_LISTEN="+ops, "GATEWAY_OPERATOR_TOKEN=leak-op",
		"GATEWAY_STORE_REDIS=redis://"+raddr+"/0")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	gw.Stdout, gw.Stderr = logf, logf
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Process.Kill(); gw.Wait() }) //nolint:errcheck
	waitUntil(t, 20*time.Second, "the gateway ready", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// the call: the client waits for an answer that never comes
	go func() {
		req, _ := http.NewRequest("POST", "http://"+pub+"/v1/Account/"+c.ID+"/Call/", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.ID+":"+c.Token)))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("the client got an answer (%d) from a gateway that was to be killed first", resp.StatusCode)
		}
	}()
	var id string
	select {
	case id = <-reached:
	case <-time.After(20 * time.Second):
		b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("the call never reached the upstream:\n%s", b)
	}
	if err := gw.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gw.Wait() //nolint:errcheck
	h, err := st.Hold(ctx, id)
	if err != nil || h.Status != balance.HoldOpen || h.Granted != 2 {
		t.Fatalf("the killed gateway's hold: %+v %v", h, err)
	}
	for _, a := range chain {
		if x, err := st.AccountIn(ctx, a.Root, a.ID); err != nil || x.ActiveCalls != 1 {
			t.Fatalf("%s before the expiry: %+v %v", a.ID, x, err)
		}
	}

	// Redis dies too, and comes back from its append-only file
	if err := rcmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rcmd.Wait() //nolint:errcheck
	startAOFRedis(t, rdir, raddr)
	if h2, err := st.Hold(ctx, id); err != nil || *h2 != *h {
		t.Fatalf("the hold after Redis restarted: %+v %v, was %+v", h2, err, h)
	}

	// no reaper anywhere: the slot dies with the hold's lifetime all the same
	time.Sleep(time.Until(time.UnixMicro(h.Expires).Add(100 * time.Millisecond)))
	for _, a := range chain {
		if x, err := st.AccountIn(ctx, a.Root, a.ID); err != nil || x.ActiveCalls != 0 {
			t.Fatalf("%s after the hold's lifetime: active_calls %d (%v)", a.ID, x.ActiveCalls, err)
		}
	}
	if h2, _ := st.Hold(ctx, id); h2.Status != balance.HoldOpen {
		t.Fatalf("something ended the hold: %+v", h2)
	}
	req := &balance.AdmitRequest{Keys: balance.AdmitKeys(c.Root, c.ID, c.Chain), CallerPos: 0, TokenHash: c.TokenHash(),
		Permission: model.PermCalls, Price: testkit.Amt("0.01"), Route: "voice.call", RequestID: []byte("rq-after-leak"),
		Call: &balance.CallRequest{HoldID: policy.NewHoldID(), Spec: balance.NewCallSpec(balance.CallSpec{
			Tariff: model.Tariff{Rate: 600_000, First: 1, Next: 1}, Grant: 2, Max: 2, Min: 1, RingTimeout: 1, Grace: 1, Commit: true, Upstream: "voice"})}}
	var d balance.Decision
	if err := st.Admit(ctx, req, &d); err != nil || !d.Admitted {
		t.Fatalf("a new call on accounts whose only slot's hold expired: %+v %v", d, err)
	}

	// a reaper now: the hold expires, committing its 2 s (0.02)
	if n, err := balance.NewReaper(st).Pass(ctx, true); err != nil || n != 1 {
		t.Fatalf("reaper: %d %v", n, err)
	}
	if h2, _ := st.Hold(ctx, id); h2.Status != balance.HoldExpired || h2.Charged != testkit.Amt("0.02") {
		t.Fatalf("the expired hold: %+v", h2)
	}
	x, _ := st.AccountIn(ctx, m.Root, m.ID)
	// 1.00 − the killed call's price and its 2 s − the new call's price; the new call holds 0.02
	if x.Balance != testkit.Amt("0.96") || x.Held != testkit.Amt("0.02") {
		t.Fatalf("billing account: balance %v held %v", x.Balance, x.Held)
	}
}
