package policy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync/atomic"
)

// AppendErrorBody appends the error body of API.md §3 for e to dst:
// {"status":"error","error":{"code":…,"message":…,"details":{…}},"request_id":…}.
// Both listeners use it, so every error looks the same.
func AppendErrorBody(dst []byte, e *APIError, requestID []byte) []byte {
	dst = append(dst, `{"status":"error","error":{"code":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err == nil {
			dst = append(dst, `,"details":`...)
			dst = append(dst, b...)
		}
	}
	dst = append(dst, `},"request_id":`...)
	dst = appendJSONString(dst, string(requestID))
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // strings always marshal
	return append(dst, b...)
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

var (
	ridPrefix [8]byte
	ridSeq    atomic.Uint64
)

func init() {
	var b [4]byte
	_, _ = rand.Read(b[:])
	hex.Encode(ridPrefix[:], b[:])
}

// AppendRequestID appends a new request id to dst: 8 hex characters unique to this process
// and a 16-hex-digit sequence number, so it allocates nothing and never repeats within a
// process (refunds are keyed by it within the account tree).
func AppendRequestID(dst []byte) []byte {
	n := ridSeq.Add(1)
	dst = append(dst, ridPrefix[:]...)
	dst = append(dst, '-')
	const hexd = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexd[(n>>uint(i))&0xf])
	}
	return dst
}
