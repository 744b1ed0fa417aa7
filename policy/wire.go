package policy

import "math/rand/v2"

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
