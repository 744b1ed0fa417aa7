package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/wire"
)

// authenticate reads the caller's credentials (wire.ReadCredentials, the rule the gateway
// applies too), verifies them against the store's record (wire.Tokens) and sets c.caller.
// Every failure is policy.ErrInvalidCredentials, whatever its cause, except a store failure
// (503).
func (c *call) authenticate() error {
	var buf [128]byte
	id, tok, _, ok := wire.ReadCredentials(&c.rc.Request.Header, buf[:0])
	if !ok {
		return policy.ErrInvalidCredentials
	}
	acct, err := c.api.st.Account(c.ctx, string(id))
	if errors.Is(err, balance.ErrNotFound) {
		return policy.ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if tokens := wire.TokensOf(acct); !tokens.Verify(policy.HashToken(tok), c.api.now().UnixMicro()) {
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

// authenticateOperator checks Authorization: Bearer <operator token> (wire.BearerToken) in
// constant time (both sides hashed first, so the comparison does not reveal the token's
// length either).
func (c *call) authenticateOperator() error {
	if !c.api.opTokSet {
		return policy.ErrInvalidCredentials
	}
	tok, ok := wire.BearerToken(&c.rc.Request.Header)
	if !ok {
		return policy.ErrInvalidCredentials
	}
	got := sha256.Sum256(tok)
	if subtle.ConstantTimeCompare(got[:], c.api.opHash[:]) == 1 {
		return nil
	}
	for _, u := range c.api.upHashes { // every one compared: the time tells nothing
		if subtle.ConstantTimeCompare(got[:], u.hash[:]) == 1 {
			c.upstream = u.name
		}
	}
	if c.upstream != "" {
		return nil
	}
	return policy.ErrInvalidCredentials
}
