package gateway

import (
	"bytes"
	"context"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/wire"
)

// resolve authenticates the caller and applies the access rule; it answers the caller's and
// the path account's facts and the caller's position in the path account's chain, or the
// error to answer with.
func (g *Gateway) resolve(rc *fasthttp.RequestCtx, st *reqState, pathID []byte) (caller, path *facts, pos int, out Outcome, apiErr *wire.APIError) {
	st.peer = clientAddr(rc)
	addr := g.client(rc)
	if g.auth != nil {
		if wait := g.auth.blocked(addr, g.now()); wait > 0 {
			return nil, nil, 0, OutcomeAuthThrottled, g.throttled(rc, wait)
		}
	}
	var id, tok []byte
	var ok bool
	id, tok, st.basic, ok = wire.ReadCredentials(&rc.Request.Header, st.basic)
	bg := context.Background()
	if ok {
		var err error
		caller, err = g.authenticate(bg, st, id, tok)
		if err != nil {
			out, apiErr = g.storeFailure(st, err)
			return nil, nil, 0, out, apiErr
		}
	}
	if caller == nil {
		out, apiErr = g.authFailed(rc, addr)
		return nil, nil, 0, out, apiErr
	}
	path = caller
	if !bytes.Equal(pathID, id) {
		if !policy.ValidID(pathID) {
			// Not even shaped like an id: refused as an unknown account is.
			return nil, nil, 0, OutcomeForbidden, errForbidden
		}
		var err error
		path, err = g.cache.get(bg, pathID, false)
		if err != nil {
			out, apiErr = g.storeFailure(st, err)
			return nil, nil, 0, out, apiErr
		}
	}
	if path == nil || path.root != caller.root {
		return nil, nil, 0, OutcomeForbidden, errForbidden
	}
	if pos = path.position(caller.id); pos < 0 {
		return nil, nil, 0, OutcomeForbidden, errForbidden
	}
	return caller, path, pos, OutcomeOK, nil
}

// authenticate finds the caller and verifies its token: from the cache when it can. It
// answers (nil, nil) for credentials that are wrong.
func (g *Gateway) authenticate(ctx context.Context, st *reqState, id, tok []byte) (*facts, error) {
	st.hash = policy.HashToken(tok)
	f, err := g.cache.get(ctx, id, false)
	if err != nil || f == nil {
		return nil, err
	}
	now := g.now()
	if f.tokens.Verify(st.hash, now.UnixMicro()) {
		return f, nil
	}
	// Perhaps rotated through another instance: re-read at most once per RefreshAfter.
	if now.UnixNano()-f.loaded < int64(g.opts.RefreshAfter) {
		return nil, nil
	}
	if f, err = g.cache.get(ctx, id, true); err != nil || f == nil {
		return nil, err
	}
	if f.tokens.Verify(st.hash, now.UnixMicro()) {
		return f, nil
	}
	return nil, nil
}

// client is the address the auth-failure limit counts a request against (AuthLimiter.Client).
func (g *Gateway) client(rc *fasthttp.RequestCtx) netip.Addr { return g.limiter.Client(rc) }

// trusted reports whether a is one of limits.trusted_proxies.
func (g *Gateway) trusted(a netip.Addr) bool { return g.limiter.isTrusted(a) }

// authFailed counts a failed authentication against addr: 401, or 429 once it puts addr
// over the limit.
func (g *Gateway) authFailed(rc *fasthttp.RequestCtx, addr netip.Addr) (Outcome, *wire.APIError) {
	if g.auth != nil {
		if wait := g.auth.fail(addr, g.now()); wait > 0 {
			return OutcomeAuthThrottled, g.throttled(rc, wait)
		}
	}
	return OutcomeInvalidCredentials, errInvalidCredentials
}

// throttled is the 429 of a client over the auth-failure limit, with Retry-After.
func (g *Gateway) throttled(rc *fasthttp.RequestCtx, wait time.Duration) *wire.APIError {
	setRetryAfter(rc, wait)
	return errAuthThrottled
}
