package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestNewServerReadTimeout: a request not received within ReadTimeout is answered 408 in
// the API's error body, with X-Request-ID, by NewServer's default error handler (the
// operator listener's).
func TestNewServerReadTimeout(t *testing.T) {
	srv := NewServer(ServerOptions{Name: "test", Handler: func(*fasthttp.RequestCtx) {}, ReadTimeout: 100 * time.Millisecond})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)                     //nolint:errcheck
	t.Cleanup(func() { srv.Shutdown() }) //nolint:errcheck
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a header, then nothing: the server's read timeout ends the wait.
	if _, err := io.WriteString(c, "GET /admin/v1/Account/ HTTP/1.1\r\nHost: gw\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil { // a hang guard only
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	rid := string(resp.Header.Peek("X-Request-ID"))
	if err := json.Unmarshal(resp.Body(), &body); err != nil || resp.StatusCode() != 408 || body.Error.Code != "INVALID_REQUEST" ||
		rid == "" || body.RequestID != rid || string(resp.Header.ContentType()) != "application/json" {
		t.Fatalf("%d %q X-Request-ID %q: %s", resp.StatusCode(), resp.Header.ContentType(), rid, resp.Body())
	}
}
