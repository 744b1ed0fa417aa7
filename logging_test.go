package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// rawExchange writes raw to addr, closes the writing side (a client that stops sending) and
// reads until the server closes the connection. The server logs a failed connection before
// it closes it, so once this returns, whatever it logged about the exchange is in the log.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// A bound on a test that would otherwise hang, not a claim about speed.
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %.200q: %v", raw, err)
	}
	return string(b)
}

// TestNoCredentialInTheLog sends both listeners requests that fasthttp cannot read — a
// malformed header line, two Content-Lengths, a control character in a credential, a client
// going away in the middle of its headers, credentials in the request line — each carrying
// X-Auth-Token, HTTP Basic and an operator Bearer token, and checks that none of them
// reaches the log (DEBUG included), while the failures themselves are logged.
func TestNoCredentialInTheLog(t *testing.T) {
	stk := startSandboxStack(t, stackOptions{level: slog.LevelDebug})

	var secrets []string
	secret := func() string {
		s := fmt.Sprintf("Secret%02dx", len(secrets))
		s += strings.Repeat("Q", 40-len(s))
		secrets = append(secrets, s)
		return s
	}
	basic := func() string {
		b := base64.StdEncoding.EncodeToString([]byte("MA_AAAAAAAAAAAAAAAAAAAA:" + secret()))
		secrets = append(secrets, b)
		return b
	}
	cases := []struct{ name, raw string }{
		{"malformed header line", "GET /v1/Account/MA_AAAAAAAAAAAAAAAAAAAA/ HTTP/1.1\r\nHost: gw\r\n" +
			"X-Auth-ID: MA_AAAAAAAAAAAAAAAAAAAA\r\nX-Auth-Token: " + secret() + "\r\n" +
			"Authorization: Basic " + basic() + "\r\nthis line has no colon\r\n\r\n"},
		{"two Content-Lengths", "POST /admin/v1/Account/ HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + secret() + "\r\n" +
			"X-Auth-Token: " + secret() + "\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
		{"control character in X-Auth-Token", "GET / HTTP/1.1\r\nHost: gw\r\nX-Auth-Token: " + secret() + "\x01\r\n\r\n"},
		{"control character in Basic", "GET / HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic " + basic() + "\x01\r\n\r\n"},
		{"control character in Bearer", "GET / HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + secret() + "\x00\r\n\r\n"},
		{"credentials in a bad request line", "GET http://MA_AAAAAAAAAAAAAAAAAAAA:" + secret() + "@gw/\x01 HTTP/1.1\r\nHost: gw\r\n\r\n"},
		{"header line without colon naming a credential", "GET / HTTP/1.1\r\nHost: gw\r\nX-Auth-Token " + secret() + "\r\n\r\n"},
		{"client gone mid-headers", "GET /v1/Account/MA_AAAAAAAAAAAAAAAAAAAA/ HTTP/1.1\r\nHost: gw\r\n" +
			"X-Auth-Token: " + secret() + "\r\nAuthorization: Bearer " + secret() + "\r\n"},
	}
	listeners := []struct {
		name string
		hc   *fasthttp.HostClient
	}{{"public", stk.pub}, {"operator", stk.ops}}
	for _, l := range listeners {
		for _, c := range cases {
			if a := rawExchange(t, l.hc.Addr, c.raw); !strings.HasPrefix(a, "HTTP/1.1 4") {
				t.Errorf("%s listener, %s: answer %.60q, want a 4xx", l.name, c.name, a)
			}
		}
	}

	logs := stk.logs.String()
	if n := strings.Count(logs, "error when serving connection"); n < len(listeners)*len(cases) {
		t.Fatalf("%d connection errors logged, want at least %d (the log path was not exercised):\n%s", n, len(listeners)*len(cases), logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log carries the credential %s:\n%s", s, logs)
		}
	}
}
