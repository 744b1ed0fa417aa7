package main

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/gateway"
)

// parseAnswer reads one HTTP response from raw.
func parseAnswer(t *testing.T, raw string) *fasthttp.Response {
	t.Helper()
	resp := &fasthttp.Response{}
	if err := resp.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("not an HTTP answer (%v): %.200q", err, raw)
	}
	return resp
}

// padTo pads s with 'p' to n bytes.
func padTo(s string, n int) string { return s + strings.Repeat("p", n-len(s)) }

// TestListenerErrorsInTheContractBody: what fasthttp cannot read gets the same answer on
// both listeners — the error body of API.md §3 with X-Request-ID (the client's when sane) —
// and a body over the limit is refused from its Content-Length, before any of it is read:
// the client here sends none of it and stops sending, so a server that waited for the body
// would meet the end of the stream instead and answer 400.
func TestListenerErrorsInTheContractBody(t *testing.T) {
	stk := startStack(t, nil, map[string]gateway.Upstream{})
	const limit = 1 << 20 // the default of both listeners in the stack
	bearer := "Authorization: Bearer " + stk.opToken + "\r\n"
	cases := []struct {
		name, raw string
		status    int
		code      string
	}{
		{"body over the limit, not sent", "POST /admin/v1/Account/ HTTP/1.1\r\nHost: gw\r\n" + bearer +
			"X-Request-ID: rid-too-large\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(limit+1) + "\r\n\r\n",
			413, "PAYLOAD_TOO_LARGE"},
		// Exactly the server's read buffer (fasthttp's default, 4096 bytes) and no end of
		// the header: the server reads all of it, so closing leaves nothing unread (which
		// would reset the connection under the answer).
		{"header over the read buffer", padTo("GET /admin/v1/Account/ HTTP/1.1\r\nHost: gw\r\n"+bearer+
			"X-Request-ID: rid-big-header\r\nX-Padding: ", 4096),
			431, "INVALID_REQUEST"},
		{"malformed header", "GET /admin/v1/Account/ HTTP/1.1\r\nHost: gw\r\n" + bearer +
			"X-Request-ID: rid-malformed\r\nno colon here\r\n\r\n",
			400, "INVALID_REQUEST"},
	}
	for _, l := range []struct {
		name string
		hc   *fasthttp.HostClient
	}{{"public", stk.pub}, {"operator", stk.ops}} {
		for _, c := range cases {
			resp := parseAnswer(t, rawExchange(t, l.hc.Addr, c.raw))
			var body struct {
				Status string `json:"status"`
				Error  struct {
					Code string `json:"code"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			err := json.Unmarshal(resp.Body(), &body)
			rid := string(resp.Header.Peek("X-Request-ID"))
			if resp.StatusCode() != c.status || err != nil || body.Status != "error" || body.Error.Code != c.code ||
				rid == "" || body.RequestID != rid || !strings.HasPrefix(string(resp.Header.ContentType()), "application/json") {
				t.Errorf("%s listener, %s: %d %q X-Request-ID %q: %.200s; want %d %s in the error body",
					l.name, c.name, resp.StatusCode(), resp.Header.ContentType(), rid, resp.Body(), c.status, c.code)
			}
			// Only a header that was read whole has an X-Request-ID the server knows.
			if c.status == 413 && rid != "rid-too-large" {
				t.Errorf("%s listener, %s: X-Request-ID %q, want the client's", l.name, c.name, rid)
			}
		}
	}
}
