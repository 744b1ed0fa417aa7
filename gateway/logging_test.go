package gateway

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestServerLoggerRedacts: whatever fasthttp hands the logger — a request it quotes in an
// error, a request context's description (method and full URI) as RequestCtx.Logger passes
// it — no credential reaches the log, while numbers, addresses and the unquoted part of an
// error do.
func TestServerLoggerRedacts(t *testing.T) {
	var buf syncBuffer
	l := ServerLogger{L: slog.New(slog.NewTextHandler(&buf, nil))}
	const tok = "Tok0123456789abcdefghijABCDEFGHIJ012345"
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4711}
	l.Printf("error when serving connection %q<->%q: %v", addr, addr,
		errors.New(`error when reading request headers: invalid header value "`+tok+"\x01\": buffer size=51"))
	// RequestCtx.Logger's format: seconds, the context's description, the message.
	l.Printf("%.3f %s - %s", 0.25, "#0000000000000001 - 127.0.0.1:8080<->127.0.0.1:5000 - GET http://MA_X:"+tok+"@gw/", "cannot parse "+tok)
	l.Printf("The number of connections from %s exceeds MaxConnsPerIP=%d", net.IPv4(198, 51, 100, 1), 10)
	out := buf.String()
	if strings.Contains(out, tok) {
		t.Fatalf("the log carries the token:\n%s", out)
	}
	for _, want := range []string{"192.0.2.7:4711", "invalid header value: <redacted>", "0.250 <redacted> - <redacted>",
		"from 198.51.100.1 exceeds MaxConnsPerIP=10", "level=WARN", "component=http-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}
