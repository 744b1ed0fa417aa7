package gateway

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// authLimiter counts authentication failures per client address with a token bucket of
// perMinute failures per minute (burst perMinute). An address whose bucket is empty is
// refused (429 TOO_MANY_AUTH_FAILURES) before its credentials are even looked at, so tokens
// cannot be guessed at line rate.
//
// Memory is bounded: limiters live in two generations of at most max entries each, rotated
// every minute (or when the current one is full). A limiter untouched for a whole generation
// has refilled completely, so dropping it forgets nothing.
type authLimiter struct {
	mu        sync.Mutex
	cur, prev map[netip.Addr]*rate.Limiter
	rotated   time.Time
	max       int
	limit     rate.Limit
	burst     int
	n         atomic.Int64 // entries in cur+prev; 0 lets clean traffic skip the lock
}

func newAuthLimiter(perMinute, max int, now time.Time) *authLimiter {
	return &authLimiter{cur: map[netip.Addr]*rate.Limiter{}, prev: map[netip.Addr]*rate.Limiter{},
		rotated: now, max: max, limit: rate.Limit(float64(perMinute) / 60), burst: perMinute}
}

// blocked returns how long addr must wait before its next attempt, 0 if it may try now.
func (a *authLimiter) blocked(addr netip.Addr, now time.Time) time.Duration {
	if a.n.Load() == 0 {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.cur[addr]
	if l == nil {
		l = a.prev[addr]
	}
	if l == nil {
		return 0
	}
	return a.wait(l, now)
}

func (a *authLimiter) wait(l *rate.Limiter, now time.Time) time.Duration {
	t := l.TokensAt(now)
	if t >= 1 {
		return 0
	}
	if a.limit <= 0 {
		return time.Minute
	}
	return time.Duration((1 - t) / float64(a.limit) * float64(time.Second))
}

// fail records a failure of addr. It returns how long addr must now wait, 0 while it is
// still within its allowance.
func (a *authLimiter) fail(addr netip.Addr, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.rotated) >= time.Minute || len(a.cur) >= a.max {
		a.prev, a.cur, a.rotated = a.cur, make(map[netip.Addr]*rate.Limiter, len(a.cur)), now
		a.n.Store(int64(len(a.prev)))
	}
	l := a.cur[addr]
	if l == nil {
		if l = a.prev[addr]; l != nil {
			delete(a.prev, addr)
		} else {
			l = rate.NewLimiter(a.limit, a.burst)
			a.n.Add(1)
		}
		a.cur[addr] = l
	}
	if l.AllowN(now, 1) {
		return 0
	}
	if w := a.wait(l, now); w > 0 {
		return w
	}
	return time.Second
}
