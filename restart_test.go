package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartFreePort returns a free loopback port.
func restartFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// restartServe starts `gateway serve` on the embedded store in dir and waits until it is
// ready; it returns the public and operator addresses and the running command.
func restartServe(t *testing.T, bin, dir string) (pub, ops string, cmd *exec.Cmd) {
	t.Helper()
	pub, ops = restartFreePort(t), restartFreePort(t)
	cmd = exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEWAY_LISTEN="+pub, "GATEWAY_OPERATOR_LISTEN="+ops, "GATEWAY_OPERATOR_TOKEN=restart-op")
	log, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	for deadline := time.Now().Add(20 * time.Second); ; {
		if r, err := http.Get("http://" + ops + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return pub, ops, cmd
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Fatalf("gateway not ready:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func restartDo(t *testing.T, method, url, user, pass, bearer, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return r.StatusCode, m
}

// TestRestartKeepsEverything: accounts, credentials (a rotated token in its grace period
// included), balances and the ledger written to the embedded store survive a graceful stop
// (SIGTERM) and a new start of the real binary.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway-bin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pub, ops, cmd := restartServe(t, bin, dir)
	s, ma := restartDo(t, "POST", "http://"+ops+"/admin/v1/Account/", "", "", "restart-op", `{"name":"Keep"}`)
	if s != 201 {
		t.Fatalf("create main: %d %v", s, ma)
	}
	mid, mtok := ma["auth_id"].(string), ma["auth_token"].(string)
	restartDo(t, "POST", "http://"+ops+"/admin/v1/Account/"+mid+"/Credit/", "", "", "restart-op", `{"amount":"7.25"}`)
	s, sa := restartDo(t, "POST", "http://"+pub+"/v1/Account/"+mid+"/Subaccount/", mid, mtok, "", `{"name":"Kid","rate_limit":7}`)
	if s != 201 {
		t.Fatalf("create sub: %d %v", s, sa)
	}
	sid, oldTok := sa["auth_id"].(string), sa["auth_token"].(string)
	s, rot := restartDo(t, "POST", "http://"+pub+"/v1/Account/"+mid+"/Subaccount/"+sid+"/Token/", mid, mtok, "", `{"grace_seconds":3600}`)
	if s != 201 {
		t.Fatalf("rotate: %d %v", s, rot)
	}
	newTok := rot["auth_token"].(string)
	// A paid message from a number the subaccount owns (added by the operator, moved by the main).
	if s, n := restartDo(t, "POST", "http://"+ops+"/admin/v1/Account/"+mid+"/Number/", "", "", "restart-op", `{"number":"+14155550100"}`); s != 201 {
		t.Fatalf("add a number: %d %v", s, n)
	}
	if s, n := restartDo(t, "POST", "http://"+pub+"/v1/Account/"+mid+"/Number/+14155550100/", mid, mtok, "", `{"auth_id":"`+sid+`"}`); s != 200 {
		t.Fatalf("move the number: %d %v", s, n)
	}
	s, msg := restartDo(t, "POST", "http://"+pub+"/v1/Account/"+sid+"/Message/", sid, newTok, "", `{"src":"+14155550100","dst":"+14155550111","text":"hi"}`)
	if s != 202 {
		t.Fatalf("paid message: %d %v", s, msg)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("graceful stop: %v\n%s", err, b)
	}

	pub, ops, _ = restartServe(t, bin, dir)
	for _, tok := range []string{mtok} {
		if s, m := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+mid+"/", mid, tok, "", ""); s != 200 || m["name"] != "Keep" {
			t.Fatalf("main after restart: %d %v", s, m)
		}
	}
	for _, tok := range []string{newTok, oldTok} { // the old token is still in its grace period
		s, m := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+sid+"/", sid, tok, "", "")
		if s != 200 || m["rate_limit"] != 7.0 || m["last_used"] == nil {
			t.Fatalf("sub after restart with %s…: %d %v", tok[:4], s, m)
		}
	}
	if s, _ := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+sid+"/", sid, restartFlip(newTok), "", ""); s != 401 {
		t.Fatalf("a wrong token after restart: %d", s)
	}
	s, bal := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+sid+"/Balance/", sid, newTok, "", "")
	if s != 200 || bal["balance"] != "7.245" || bal["billing_auth_id"] != mid {
		t.Fatalf("balance after restart: %d %v", s, bal)
	}
	if s, n := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+sid+"/Number/+14155550100/", sid, newTok, "", ""); s != 200 || n["auth_id"] != sid {
		t.Fatalf("the subaccount's number after restart: %d %v", s, n)
	}
	s, led := restartDo(t, "GET", "http://"+pub+"/v1/Account/"+mid+"/Transfer/", mid, mtok, "", "")
	if s != 200 || fmt.Sprint(led["meta"].(map[string]any)["total_count"]) != "1" {
		t.Fatalf("ledger after restart: %d %v", s, led)
	}
	if s, l := restartDo(t, "GET", "http://"+ops+"/admin/v1/Account/", "", "", "restart-op", ""); s != 200 || len(l["objects"].([]any)) != 1 {
		t.Fatalf("mains after restart: %d %v", s, l)
	}
}

// restartFlip returns tok with its first character changed: always a different token.
func restartFlip(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}
