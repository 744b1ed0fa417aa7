package gateway

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// appendForwardedFor appends the X-Forwarded-For the upstream receives for a request from
// peer (the connection's other end): when peer is a trusted proxy (the AuthLimiter's),
// the list the request carries (every X-Forwarded-For line, in order) followed by peer;
// otherwise peer alone, since the list of anyone else may be forged. Nothing is appended
// for a peer without an IP address. The upstream can therefore trust the last entry, and
// the entries before it as far as it trusts the configured proxies. The client's Forwarded
// header is dropped (stripRequest), not rewritten: X-Forwarded-For is the one the
// gateway vouches for.
func (g *Gateway) appendForwardedFor(dst []byte, h *fasthttp.RequestHeader, peer netip.Addr) []byte {
	if !peer.IsValid() {
		return dst
	}
	if len(g.limiter.trusted) > 0 && g.trusted(peer) {
		for _, v := range h.PeekAll(hForwardedFor) {
			if v = bytes.TrimSpace(v); len(v) > 0 {
				dst = append(dst, v...)
				dst = append(dst, ", "...)
			}
		}
	}
	return peer.AppendTo(dst)
}
