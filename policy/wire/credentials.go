package wire

import (
	"bytes"
	"encoding/base64"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Credential headers.
const (
	HeaderAuthID        = "X-Auth-ID"
	HeaderAuthToken     = "X-Auth-Token"
	HeaderAuthorization = "Authorization"
)

// ReadCredentials reads the caller's credentials from the header section h, by the one rule
// of the public listener (the proxied routes and the management API alike):
//
//   - When X-Auth-ID or X-Auth-Token is sent, the credentials are that pair and nothing else:
//     the headers win over Basic, and a half pair (one of the two alone) is refused — Basic is
//     then not looked at, so a request never authenticates as someone it did not name.
//   - Otherwise they are Authorization: Basic base64(auth_id:auth_token) (the scheme in any
//     case).
//
// A header with an empty value counts as not sent. ok is false when the credentials are
// missing, a half pair, malformed, or cannot be an id and a token (policy.ValidID,
// policy.ValidToken): no store lookup is worth making for them, and the caller answers 401
// INVALID_CREDENTIALS. id and tok alias h or buf; Basic credentials are decoded into buf,
// which is grown if too small and returned for reuse. With 128 bytes of capacity in buf,
// nothing is allocated.
func ReadCredentials(h *fasthttp.RequestHeader, buf []byte) (id, tok, out []byte, ok bool) {
	id, tok = h.Peek(HeaderAuthID), h.Peek(HeaderAuthToken)
	if len(id) == 0 && len(tok) == 0 {
		a := h.Peek(HeaderAuthorization)
		if len(a) == 0 {
			return nil, nil, buf, false
		}
		if id, tok, buf, ok = parseBasic(a, buf); !ok {
			return nil, nil, buf, false
		}
	}
	if !policy.ValidID(id) || !policy.ValidToken(tok) {
		return nil, nil, buf, false
	}
	return id, tok, buf, true
}

// parseBasic splits the value of an Authorization header of the form "Basic base64(id:tok)"
// into id and token, decoding into dst (which it may grow) so that the result aliases dst.
// ok is false for any other form.
func parseBasic(h, dst []byte) (id, tok, buf []byte, ok bool) {
	const prefix = "Basic "
	if len(h) <= len(prefix) || !eqFold(h[:len(prefix)], prefix) {
		return nil, nil, dst, false
	}
	enc := h[len(prefix):]
	for len(enc) > 0 && enc[0] == ' ' {
		enc = enc[1:]
	}
	n := base64.StdEncoding.DecodedLen(len(enc))
	if n > 256 {
		return nil, nil, dst, false
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := base64.StdEncoding.Decode(dst, enc)
	if err != nil {
		return nil, nil, dst, false
	}
	dec := dst[:m]
	for i, c := range dec {
		if c == ':' {
			return dec[:i], dec[i+1:], dst, true
		}
	}
	return nil, nil, dst, false
}

// eqFold reports whether b equals s ignoring ASCII case; len(b) must be len(s).
func eqFold(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		d := s[i]
		if d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// BearerToken reads the operator listener's credentials: the token of Authorization: Bearer
// <token> (the scheme in any case, spaces around the token dropped). ok is false for a
// missing header, another scheme or an empty token. The token aliases h.
func BearerToken(h *fasthttp.RequestHeader) (tok []byte, ok bool) {
	a := h.Peek(HeaderAuthorization)
	const prefix = "bearer "
	if len(a) <= len(prefix) || !eqFold(a[:len(prefix)], prefix) {
		return nil, false
	}
	tok = bytes.TrimSpace(a[len(prefix):])
	return tok, len(tok) > 0
}

// Tokens are an account's live tokens, as hashes: the current one and, during a rotation's
// grace period, the previous one until it expires. Build them with TokensOf; the zero value
// has none.
type Tokens struct {
	current, previous       policy.TokenHash
	hasCurrent, hasPrevious bool
	previousExpUs           int64 // Unix µs
}

// TokensOf reads the live tokens of a's record. A closed account has none; hashes the record
// holds in another form than policy.ParseTokenHash reads are not tokens.
func TokensOf(a *model.Account) Tokens {
	var t Tokens
	if a.Status == model.StatusClosed {
		return t
	}
	if h, ok := policy.ParseTokenHash(a.Tok); ok {
		t.current, t.hasCurrent = h, true
	}
	if h, ok := policy.ParseTokenHash(a.TokPrev); ok && a.TokPrevExp > 0 {
		t.previous, t.hasPrevious, t.previousExpUs = h, true, a.TokPrevExp
	}
	return t
}

// Verify is the one token verifier of both listeners: it reports whether h (policy.HashToken
// of the token the caller sent) is a live token at nowUs (Unix µs). Both hashes are always
// compared, in constant time, so the time taken says neither which one matched nor how
// much of it did. It allocates nothing.
func (t *Tokens) Verify(h policy.TokenHash, nowUs int64) bool {
	cur := t.hasCurrent && h.Equal(t.current)
	prev := t.hasPrevious && h.Equal(t.previous) && nowUs < t.previousExpUs
	return cur || prev
}
