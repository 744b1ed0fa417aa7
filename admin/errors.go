package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/wire"
)

// Errors of this package that wire.ErrorFor has no sentinel for.

// suspendedError is 403 ACCOUNT_SUSPENDED: the caller (or an ancestor of it) is suspended.
func suspendedError(id string) error {
	return wire.Suspended.Answer(map[string]any{"auth_id": id})
}

// creditLimitForbidden is 403 FORBIDDEN for a tenant's create or update that sets
// credit_limit: only the operator sets it directly; an ancestor moves credit it holds itself
// with a credit transfer from parent, the account that would give it (API.md §3).
func creditLimitForbidden(parent string) error {
	return wire.Forbidden.Saying("credit_limit is set by the operator only; move credit you hold with a credit transfer: POST /v1/Account/"+
		parent+"/CreditTransfer/", map[string]any{"field": "credit_limit"})
}

// methodNotAllowed answers 405 METHOD_NOT_ALLOWED for a known path, with Allow.
func (c *call) methodNotAllowed(allow string) {
	c.rc.Response.Header.Set("Allow", allow)
	c.fail(&wire.APIError{Status: http.StatusMethodNotAllowed, Code: "METHOD_NOT_ALLOWED",
		Message: "method not allowed on this path"})
}

// notFound is 404 NOT_FOUND: no such resource.
func notFound() error { return policy.ErrResourceNotFound }

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// fail writes the error body for err.
func (c *call) fail(err error) {
	e := wire.ErrorFor(err)
	switch {
	case e.Status >= 500 && e.Code == "INTERNAL_ERROR":
		c.api.log.Error("admin request failed", "request_id", string(c.rid),
			"method", string(c.rc.Method()), "path", string(c.rc.Path()), "err", err)
	case e.Status >= 500:
		c.api.log.Warn("admin request failed", "request_id", string(c.rid), "status", e.Status,
			"code", e.Code, "method", string(c.rc.Method()), "path", string(c.rc.Path()), "err", err)
	default: // refusals: DEBUG, never the credentials
		if c.api.log.Enabled(c.ctx, slog.LevelDebug) {
			c.api.log.LogAttrs(c.ctx, slog.LevelDebug, "admin request refused", slog.String("request_id", string(c.rid)),
				slog.Int("status", e.Status), slog.String("code", e.Code),
				slog.String("method", string(c.rc.Method())), slog.String("path", string(c.rc.Path())))
		}
	}
	challenge := wire.BasicChallenge
	if c.operator {
		challenge = wire.BearerChallenge
	}
	wire.WriteError(c.rc, e, c.rid, challenge, make([]byte, 0, 256))
}

// reply writes v as JSON with status.
func (c *call) reply(status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		c.fail(err)
		return
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode appends a newline
	c.rc.SetStatusCode(status)
	c.rc.SetContentType("application/json")
	c.rc.SetBody(b)
}

// noContent writes a 204.
func (c *call) noContent() {
	c.rc.SetStatusCode(http.StatusNoContent)
	c.rc.ResetBody()
}
