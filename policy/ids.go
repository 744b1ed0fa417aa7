package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

const (
	idChars    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// IDLen is the length of an auth_id: a 3-character prefix and 20 characters.
	IDLen = 23
	// TokenLen is the length of an auth_token.
	TokenLen = 40
)

// randomString draws n characters uniformly from alphabet with crypto/rand (rejection
// sampling, so no character is more likely than another).
func randomString(prefix, alphabet string, n int) string {
	out := make([]byte, len(prefix), len(prefix)+n)
	copy(out, prefix)
	limit := 256 - 256%len(alphabet)
	var buf [64]byte
	for len(out) < len(prefix)+n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS RNG never fails on Linux
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < len(prefix)+n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// NewMainID returns a new main account id: "MA_" + 20 characters of [A-Z0-9].
func NewMainID() string { return randomString("MA_", idChars, 20) }

// NewSubID returns a new subaccount id: "SA_" + 20 characters of [A-Z0-9].
func NewSubID() string { return randomString("SA_", idChars, 20) }

// NewTransferID returns a new ledger record id prefix: "TR_" + 20 characters.
func NewTransferID() string { return randomString("TR_", idChars, 20) }

// NewHoldID returns a new call hold id: "HL_" and 20 characters of [A-Z0-9] (API.md §8).
func NewHoldID() string { return randomString("HL_", idChars, 20) }

// NewToken returns a new auth_token: 40 characters of [A-Za-z0-9] (about 238 bits).
func NewToken() string { return randomString("", tokenChars, TokenLen) }

// ValidID reports whether b has the shape of an auth_id (MA_ or SA_ and 20 of [A-Z0-9]).
func ValidID(b []byte) bool {
	if len(b) != IDLen || b[2] != '_' || b[1] != 'A' || (b[0] != 'M' && b[0] != 'S') {
		return false
	}
	for _, c := range b[3:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidToken reports whether b has the shape of an auth_token.
func ValidToken(b []byte) bool {
	if len(b) != TokenLen {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// TokenHash is the SHA-256 of a token. Tokens are 238-bit random strings, so a fast hash is
// enough at rest (as for GitHub's and Stripe's API keys): no dictionary can reach them.
type TokenHash [sha256.Size]byte

// HashToken hashes a token; it does not retain or allocate for tok.
func HashToken(tok []byte) TokenHash { return sha256.Sum256(tok) }

// Hex returns the hash as the 64-character hex string the store holds.
func (h TokenHash) Hex() string { return hex.EncodeToString(h[:]) }

// AppendHex appends the hex form to dst.
func (h TokenHash) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, h[:]) }

// ParseTokenHash reads the hex form; ok is false for anything else.
func ParseTokenHash(s string) (h TokenHash, ok bool) {
	if len(s) != 2*sha256.Size {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

// Equal compares two hashes in constant time.
func (h TokenHash) Equal(o TokenHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }
