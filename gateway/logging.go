package gateway

import (
	"context"
	"fmt"
	"log/slog"
)

// ServerLogger adapts a *slog.Logger to fasthttp.Logger, so that what fasthttp itself reports
// (errors serving a connection) lands in the structured log at WARN instead of on stderr.
type ServerLogger struct{ L *slog.Logger }

// Printf logs one fasthttp message at WARN.
func (s ServerLogger) Printf(format string, args ...any) {
	if s.L == nil || !s.L.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	s.L.Warn(fmt.Sprintf(format, args...), "component", "http-server")
}
