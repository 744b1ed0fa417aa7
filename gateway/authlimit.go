package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/tenantgw/gateway/config"
)

// AuthLimiter is the auth-failure limit of one listener: each client address may fail
// authentication PerMinute times a minute (a token bucket, burst PerMinute); past that it
// is refused, 429 TOO_MANY_AUTH_FAILURES with Retry-After, before its credentials are even
// looked at (the right ones included) until its bucket refills. The client address is the
// peer's, or, when the peer is a trusted proxy, the one X-Forwarded-For names (Client).
//
// One AuthLimiter serves every authenticated endpoint of a listener: the gateway's proxied
// routes use Options.AuthLimiter and main hands the same one to the management API, so
// that failures on either count together; the operator listener has its own, so that
// failures on the public listener never lock the operator out. Safe for concurrent use;
// the methods allocate nothing while the address has no failures on record.
type AuthLimiter struct {
	l       *authLimiter // nil only in a zero AuthLimiter, which limits nothing
	trusted []netip.Prefix
	now     func() time.Time
}

// AuthLimitOptions configure an AuthLimiter. Zero values take the documented defaults.
type AuthLimitOptions struct {
	// PerMinute is how many failures an address may have a minute
	// (limits.auth_failures_per_minute); 0 or less: config.DefaultAuthFailuresPerMinute.
	PerMinute int
	// Entries bounds the addresses tracked; default 100,000 (not a setting).
	Entries int
	// TrustedProxies are the load balancers in front of the listener (see Client).
	TrustedProxies []netip.Prefix
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// NewAuthLimiter returns an AuthLimiter for o.
func NewAuthLimiter(o AuthLimitOptions) *AuthLimiter {
	o.PerMinute = config.Or(o.PerMinute, config.DefaultAuthFailuresPerMinute)
	o.Entries = config.Or(o.Entries, 100_000)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &AuthLimiter{l: newAuthLimiter(o.PerMinute, o.Entries, o.Now()), trusted: o.TrustedProxies, now: o.Now}
}

// Client is the address the limit counts a request against: its peer, or, when the peer
// is a trusted proxy, the nearest address in X-Forwarded-For (read from the right) that is
// not one, over all its lines. A malformed entry ends the walk: the last trusted hop is used.
func (a *AuthLimiter) Client(rc *fasthttp.RequestCtx) netip.Addr {
	addr := clientAddr(rc)
	if len(a.trusted) == 0 || !a.isTrusted(addr) {
		return addr
	}
	// Every X-Forwarded-For line, the last first: together they are one list (RFC 9110
	// §5.3), the one the upstream receives (appendForwardedFor).
	lines := rc.Request.Header.PeekAll(hForwardedFor)
	for l := len(lines) - 1; l >= 0; l-- {
		xff := lines[l]
		for len(bytes.TrimSpace(xff)) > 0 {
			i := bytes.LastIndexByte(xff, ',')
			hop := bytes.TrimSpace(xff[i+1:])
			xff = xff[:max(i, 0)]
			h, err := parseAddr(hop)
			if err != nil {
				return addr
			}
			addr = h.Unmap()
			if !a.isTrusted(addr) {
				return addr
			}
		}
	}
	return addr
}

func (a *AuthLimiter) isTrusted(addr netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

var errNoAddr = errors.New("empty address")

// parseAddr is netip.ParseAddr on bytes without copying them: the string it reads them
// through is kept by nothing but the error, which callers drop.
func parseAddr(b []byte) (netip.Addr, error) {
	if len(b) == 0 {
		return netip.Addr{}, errNoAddr
	}
	return netip.ParseAddr(unsafe.String(&b[0], len(b)))
}

func clientAddr(rc *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := rc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// Throttled reports whether the request's client may not authenticate now; when it may
// not, Retry-After is set on the response.
func (a *AuthLimiter) Throttled(rc *fasthttp.RequestCtx) bool {
	if a.l == nil {
		return false
	}
	return overLimit(rc, a.l.blocked(a.Client(rc), a.now()))
}

// Failed counts a failed authentication of the request's client and reports whether it
// is now over the limit; when it is, Retry-After is set on the response.
func (a *AuthLimiter) Failed(rc *fasthttp.RequestCtx) bool {
	if a.l == nil {
		return false
	}
	return overLimit(rc, a.l.fail(a.Client(rc), a.now()))
}

// overLimit reports whether wait is positive, setting Retry-After to it when it is.
func overLimit(rc *fasthttp.RequestCtx, wait time.Duration) bool {
	if wait <= 0 {
		return false
	}
	setRetryAfter(rc, wait)
	return true
}

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
