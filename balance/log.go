package balance

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own messages (dial failures, pool trouble, failovers) to l at
// WARN instead of the standard library's log package, so they share the gateway's format.
// It is process-wide, as go-redis's logger is.
func SetLogger(l *slog.Logger) { redis.SetLogger(slogRedis{l}) }

type slogRedis struct{ l *slog.Logger }

func (s slogRedis) Printf(ctx context.Context, format string, v ...interface{}) {
	s.l.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}
