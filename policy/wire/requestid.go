package wire

import (
	"math/rand/v2"

	"github.com/valyala/fasthttp"
)

// HeaderRequestID carries a request's id: the client's when sane, else one the listener made.
const HeaderRequestID = "X-Request-ID"

// PickRequestID is the one request-id picker of both listeners: it appends to dst the id the
// request is answered (and logged, and forwarded) under — the client's X-Request-ID when
// SaneRequestID holds for it, else a new one (AppendRequestID) — and reports whether it made
// one. It allocates nothing when dst has room for 128 bytes.
func PickRequestID(dst []byte, h *fasthttp.RequestHeader) (id []byte, made bool) {
	if rid := h.Peek(HeaderRequestID); SaneRequestID(rid) {
		return append(dst, rid...), false
	}
	return AppendRequestID(dst), true
}

// SaneRequestID reports whether a client-sent X-Request-ID may be reused: 1 to 128
// characters of [A-Za-z0-9._:-].
func SaneRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// AppendRequestID appends a new request id to dst: 32 hex digits, 128 bits from the
// runtime's per-thread ChaCha8 generator (math/rand/v2), which the OS's entropy seeds and
// which erases its past keys. Ids are unpredictable and say nothing about how many requests
// came before or which instance made them; two never meet in practice (refunds are keyed by
// them within the account tree). It allocates nothing when dst has room for 32 bytes.
func AppendRequestID(dst []byte) []byte {
	const hexd = "0123456789abcdef"
	for range 2 {
		n := rand.Uint64()
		for i := 60; i >= 0; i -= 4 {
			dst = append(dst, hexd[(n>>uint(i))&0xf])
		}
	}
	return dst
}
