package policy

import (
	"encoding/base64"

	"github.com/tenantgw/gateway/policy/model"
)

// Reaches is the access rule: the caller may act on target when target is the caller or
// one of its descendants, i.e. when the caller is target itself or appears in target's
// chain of ancestors. Subaccount credentials therefore never reach a parent or a sibling.
func Reaches(callerID, targetID string, targetChain []string) bool {
	if callerID == targetID {
		return true
	}
	for _, id := range targetChain {
		if id == callerID {
			return true
		}
	}
	return false
}

// IsActive reports whether a and every ancestor are active. ancestors are a's chain
// (parent first) as records.
func IsActive(a *model.Account, ancestors []*model.Account) bool {
	if a.Status != model.StatusActive {
		return false
	}
	for _, p := range ancestors {
		if p.Status != model.StatusActive {
			return false
		}
	}
	return true
}

// KYCBlockedSelf reports whether a's own KYC blocks calls: customer_use until verified.
func KYCBlockedSelf(a *model.Account) bool {
	return a.KYCMode == model.KYCCustomer && a.KYCStatus != model.KYCVerified
}

// KYCCallsBlocked is the effective kyc_calls_blocked: a's own block or any ancestor's (a
// personal_use account inherits its parent's KYC). The admit script applies the same rule.
func KYCCallsBlocked(a *model.Account, ancestors []*model.Account) bool {
	if KYCBlockedSelf(a) {
		return true
	}
	for _, p := range ancestors {
		if KYCBlockedSelf(p) {
			return true
		}
	}
	return false
}

// ParseBasic splits the value of an Authorization header of the form "Basic base64(id:tok)"
// into id and token, decoding into dst (which it may grow) so that the result aliases dst.
// ok is false for any other form.
func ParseBasic(h, dst []byte) (id, tok, buf []byte, ok bool) {
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
