package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy/wire"
)

// What every request of the public listener goes through before it is routed (the
// management API's too): the path must be in normal form, and the trailer section is
// discarded. Both make "what was decided on is what is acted on" hold: the route, the
// access rule and the bill are decided on the path and the header section the upstream
// (or the management API) then receives.

var (
	errPathNotNormal = wire.InvalidRequest.Saying("the path must be in normal form: no percent-encoding, no dot or empty segments",
		map[string]any{"field": "path"})
	errTrailers = wire.InvalidRequest.Saying("the request's trailer section could not be discarded", nil)
)

// inbound checks and trims the client's request before routing; it answers the error to
// refuse it with, or nil.
func inbound(req *fasthttp.Request) *wire.APIError {
	if !normalPath(req.URI()) {
		return errPathNotNormal
	}
	if !dropTrailers(&req.Header) {
		return errTrailers
	}
	return nil
}

// normalPath reports whether the path as sent is its own normal form: fasthttp routes on the
// percent-decoded path with dot segments and repeated slashes resolved (URI.Path), while
// the upstream clients send the path as sent (URI.PathOriginal). Only when the two are the
// same bytes is the path the route, the access rule and the bill were decided on the path
// the upstream acts on. So percent-encoding anywhere in the path (%2F, %2e, %41 alike), "."
// and ".." segments and "//" are refused; the query is not looked at. A backslash is an
// ordinary character here: it matches no route's separator, so it cannot move a request
// to another account either. The one exception is %2B ('+'), which the management API takes
// in a phone number (/v1/Account/{auth_id}/Number/%2B14155550100/, API.md §9): a path whose
// only encoding is %2B passes here, and proxyPath refuses it on a proxied route.
func normalPath(u *fasthttp.URI) bool {
	raw := u.PathOriginal()
	if len(raw) == 0 {
		return true // an absolute-form target with no path: "/", as sent on
	}
	path := u.Path()
	if bytes.Equal(raw, path) {
		return true
	}
	// equal once each %2B is read as '+'?
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) && raw[i+1] == '2' && (raw[i+2] == 'B' || raw[i+2] == 'b') {
			c, i = '+', i+2
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// proxyPath reports whether a path that passed normalPath may go to an upstream: one with
// no percent-encoding at all (a %2B is the management API's only).
func proxyPath(u *fasthttp.URI) bool { return bytes.IndexByte(u.PathOriginal(), '%') < 0 }

// dropTrailers discards the request's trailer section and the announcement of it (RFC 9110
// §6.5.1 lets a recipient discard trailer fields): fasthttp keeps trailer fields beside the
// header section and Peek falls back on them, so left alone a credential sent as a trailer
// would authenticate, and forwarding would send them on (announced names even pull the
// gateway's own trusted headers into the trailer section). Header-section fields that share
// a name with a trailer field are kept. It reports false when the trailer section could not
// be emptied (the request must then be refused). A request without trailers costs one
// length check.
func dropTrailers(h *fasthttp.RequestHeader) bool {
	if len(h.PeekTrailerKeys()) == 0 {
		return true
	}
	// fasthttp deletes a name from both sections at once, so the header section's values
	// under the trailer names are saved and put back afterwards.
	names := make([][]byte, 0, len(h.PeekTrailerKeys()))
	for _, n := range h.PeekTrailerKeys() {
		names = append(names, bytes.Clone(n))
	}
	var keep [][2][]byte
	for k, v := range h.All() {
		for _, n := range names {
			if bytes.Equal(k, n) {
				keep = append(keep, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				break
			}
		}
	}
	for _, n := range names {
		h.DelBytes(n)
	}
	if len(h.TrailerHeader()) != 2 { // not just the final CRLF: a value escaped the deletes
		return false
	}
	h.Del("Trailer") // forgets the announced names; the trailer section is empty
	for _, kv := range keep {
		h.AddBytesKV(kv[0], kv[1])
	}
	return len(h.PeekTrailerKeys()) == 0
}
