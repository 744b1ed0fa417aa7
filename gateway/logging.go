package gateway

import (
	"context"
	"fmt"
	"log/slog"
)

// ServerLogger adapts a *slog.Logger to fasthttp.Logger, so that what fasthttp itself reports
// (errors serving a connection, a pipelined upstream connection failing) lands in the
// structured log at WARN instead of on stderr.
type ServerLogger struct {
	L *slog.Logger
	// Component names the reporter in the log line; default "http-server".
	Component string
}

// Printf logs one fasthttp message at WARN.
func (s ServerLogger) Printf(format string, args ...any) {
	if s.L == nil || !s.L.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	c := s.Component
	if c == "" {
		c = "http-server"
	}
	s.L.Warn(fmt.Sprintf(format, args...), "component", c)
}
