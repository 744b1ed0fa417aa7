package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// ServerLogger adapts a *slog.Logger to fasthttp.Logger, so that what fasthttp itself reports
// (errors serving a connection, a pipelined upstream connection failing) lands in the
// structured log at WARN instead of on stderr.
//
// It never logs what a client sent. fasthttp's messages can quote the request (a header
// value it could not parse, the request line, with SecureErrorLogMessage off the whole header
// buffer), and so a credential; Printf therefore keeps only numbers, addresses and the text
// of an error up to its first quoted part (fasthttp quotes whatever it copies from the
// request), and replaces any other argument with "<redacted>". The format itself is
// fasthttp's own text.
type ServerLogger struct {
	L *slog.Logger
	// Component names the reporter in the log line; default "http-server".
	Component string
}

// Printf logs one fasthttp message at WARN, its arguments redacted as described above.
func (s ServerLogger) Printf(format string, args ...any) {
	if s.L == nil || !s.L.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	c := s.Component
	if c == "" {
		c = "http-server"
	}
	safe := make([]any, len(args))
	for i, a := range args {
		safe[i] = redactArg(a)
	}
	s.L.Warn(fmt.Sprintf(format, safe...), "component", c)
}

// redactArg returns what of a may be logged.
func redactArg(a any) any {
	switch v := a.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, time.Duration, net.IP:
		return v
	case net.Addr:
		return v.String()
	case error:
		return redactError(v.Error())
	}
	return "<redacted>"
}

// redactError cuts an error's text at its first quote: what follows is (or may be) a copy
// of what the client sent.
func redactError(s string) string {
	if i := strings.IndexByte(s, '"'); i >= 0 {
		s = strings.TrimRight(s[:i], ": ") + ": <redacted>"
	}
	return s
}
