package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// authenticate verifies the caller's credentials against the store's record and sets
// c.caller. Every failure is policy.ErrInvalidCredentials, whatever its cause, except a
// store failure (503).
func (c *call) authenticate() error {
	h := &c.rc.Request.Header
	id, tok := h.Peek("X-Auth-ID"), h.Peek("X-Auth-Token")
	if len(id) == 0 && len(tok) == 0 {
		var ok bool
		var buf [192]byte
		id, tok, _, ok = policy.ParseBasic(h.Peek("Authorization"), buf[:0])
		if !ok {
			return policy.ErrInvalidCredentials
		}
	}
	if !policy.ValidID(id) || !policy.ValidToken(tok) {
		return policy.ErrInvalidCredentials
	}
	acct, err := c.api.st.Account(c.ctx, string(id))
	if errors.Is(err, balance.ErrNotFound) {
		return policy.ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if acct.Status == balance.StatusClosed || !credentials(acct).Verify(tok, c.api.now().UnixMicro()) {
		return policy.ErrInvalidCredentials
	}
	// last_used is best effort: a failure to stamp it does not fail the request.
	if err := c.api.st.TouchLastUsed(c.ctx, acct); errors.Is(err, balance.ErrNotFound) {
		return policy.ErrInvalidCredentials // deleted in between
	}
	c.caller = acct
	return nil
}

// limited runs authenticate under the listener's auth-failure limit: a client over it is
// refused (policy.ErrTooManyAuthFailures) before its credentials are looked at, and a
// failure (policy.ErrInvalidCredentials) is counted, answered 429 instead of 401 once it
// puts the client over the limit. Store failures are not counted.
func (c *call) limited(authenticate func() error) error {
	lim := c.api.o.AuthLimiter
	if c.operator {
		lim = c.api.o.OperatorAuthLimiter
	}
	if lim == nil {
		return authenticate()
	}
	if lim.Throttled(c.rc) {
		return policy.ErrTooManyAuthFailures
	}
	err := authenticate()
	if errors.Is(err, policy.ErrInvalidCredentials) && lim.Failed(c.rc) {
		return policy.ErrTooManyAuthFailures
	}
	return err
}

// credentials are the live token hashes of a record.
func credentials(a *balance.Account) *policy.Credentials {
	cr := &policy.Credentials{}
	if h, ok := policy.ParseTokenHash(a.Tok); ok {
		cr.Current, cr.CurrentSet = h, true
	}
	if h, ok := policy.ParseTokenHash(a.TokPrev); ok && a.TokPrevExp > 0 {
		cr.Previous, cr.HasPrev, cr.PrevExpUs = h, true, a.TokPrevExp
	}
	return cr
}

// authenticateOperator checks Authorization: Bearer <operator token> in constant time (both
// sides hashed first, so the comparison does not reveal the token's length either).
func (c *call) authenticateOperator() error {
	if !c.api.opTokSet {
		return policy.ErrInvalidCredentials
	}
	h := c.rc.Request.Header.Peek("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return policy.ErrInvalidCredentials
	}
	got := sha256.Sum256(bytes.TrimSpace(h[len(prefix):]))
	if subtle.ConstantTimeCompare(got[:], c.api.opHash[:]) != 1 {
		return policy.ErrInvalidCredentials
	}
	return nil
}
