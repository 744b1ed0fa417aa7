package gateway

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// decidingStore answers every admit with dec (the request's price echoed, as the store
// does), so that each refusal of the admit script can be asked for by name.
type decidingStore struct {
	*balance.Store
	dec balance.Decision
}

func (s *decidingStore) Admit(_ context.Context, req *balance.AdmitRequest, dec *balance.Decision) error {
	*dec = s.dec
	dec.Price = req.Price
	return nil
}

// TestStoreRefusalAnswers pins the answer to each refusal of the admit script: status, code,
// message, details (the account at fault, and what each refusal adds) and headers; a code
// the gateway does not know is a 500. Nothing is forwarded.
func TestStoreRefusalAnswers(t *testing.T) {
	ds := &decidingStore{}
	f := newFixture(t, func(o *Options) { ds.Store = o.Store.(*balance.Store); o.Store = ds })
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	cases := []struct {
		dec     balance.Decision
		status  int
		code    string
		message string
		details map[string]any
		headers map[string]string
	}{
		{balance.Decision{Reason: balance.ReasonCredentials, AuthID: k.ID}, 401, "INVALID_CREDENTIALS",
			"missing, unknown or wrong credentials", nil, map[string]string{"Www-Authenticate": `Basic realm="gateway"`}},
		{balance.Decision{Reason: balance.ReasonGone, AuthID: m.ID}, 403, "FORBIDDEN", "not allowed for these credentials", nil, nil},
		{balance.Decision{Reason: balance.ReasonSuspended, AuthID: m.ID}, 403, "ACCOUNT_SUSPENDED",
			"the account or an ancestor is suspended", map[string]any{"auth_id": m.ID}, nil},
		{balance.Decision{Reason: balance.ReasonPermission, AuthID: m.ID}, 403, "PERMISSION_DENIED",
			"permission calls is off", map[string]any{"auth_id": m.ID, "permission": "calls"}, nil},
		{balance.Decision{Reason: balance.ReasonKYC, AuthID: k.ID}, 403, "KYC_REQUIRED",
			"KYC verification required", map[string]any{"auth_id": k.ID}, nil},
		{balance.Decision{Reason: balance.ReasonRateLimited, AuthID: m.ID, Limit: 5, Reset: 1500 * time.Millisecond}, 429, "RATE_LIMITED",
			"over a rate limit in the chain", map[string]any{"auth_id": m.ID, "limit": float64(5)},
			map[string]string{"Retry-After": "2", "Ratelimit-Policy": `"acct";q=5;w=1`, "Ratelimit": `"acct";r=0;t=2`}},
		{balance.Decision{Reason: balance.ReasonInsufficient, AuthID: m.ID, Available: testkit.Amt("0.004")}, 402, "INSUFFICIENT_BALANCE",
			"balance too low for this request", map[string]any{"auth_id": m.ID, "required": testkit.Amt("0.0100").String(), "available": testkit.Amt("0.004").String(), "currency": "USD"}, nil},
		{balance.Decision{Reason: balance.Reason(200), AuthID: m.ID}, 500, "INTERNAL_ERROR", "internal error", nil, nil},
	}
	for _, c := range cases {
		ds.dec = c.dec
		a := f.do(call{path: callPath(k), as: k})
		e := a.Err.Error
		if a.Status != c.status || e.Code != c.code || e.Message != c.message || !reflect.DeepEqual(e.Details, c.details) ||
			a.Header["X-Charge"] != "0.00" || a.Header["X-Request-Id"] != a.Err.RequestID {
			t.Errorf("reason %d: %d %s %q %v (X-Charge %q)\nwant %d %s %q %v", c.dec.Reason, a.Status, e.Code, e.Message, e.Details,
				a.Header["X-Charge"], c.status, c.code, c.message, c.details)
		}
		for h, v := range c.headers {
			if a.Header[h] != v {
				t.Errorf("reason %d: %s %q, want %q", c.dec.Reason, h, a.Header[h], v)
			}
		}
	}
	if n := f.voice.count(); n != 0 {
		t.Fatalf("forwarded %d refused requests", n)
	}
}
