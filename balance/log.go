package balance

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own messages (dial failures, pool trouble, failovers) to l at
// WARN instead of the standard library's log package, so they share the gateway's format,
// and the store's own (call holds that expire or settle over their hold) to l. It is
// process-wide, as go-redis's logger is.
func SetLogger(l *slog.Logger) {
	redis.SetLogger(slogRedis{l})
	storeLog.Store(l)
}

// storeLog is the store's own logger (SetLogger); none until it is set.
var storeLog atomic.Pointer[slog.Logger]

var discard = slog.New(slog.DiscardHandler)

// logger is the store's own logger.
func logger() *slog.Logger {
	if l := storeLog.Load(); l != nil {
		return l
	}
	return discard
}

type slogRedis struct{ l *slog.Logger }

func (s slogRedis) Printf(ctx context.Context, format string, v ...interface{}) {
	s.l.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}
