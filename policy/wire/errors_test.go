package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// TestErrorFor pins the answer (status, code, message, details) of every error the mapping
// knows, wrapped or not, and the 500 of everything else.
func TestErrorFor(t *testing.T) {
	amt := func(s string) model.Amount {
		a, err := model.ParseAmount(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	conflict := func(reason, msg string, more ...any) want {
		d := map[string]any{"reason": reason}
		for i := 0; i < len(more); i += 2 {
			d[more[i].(string)] = more[i+1]
		}
		return want{409, "CONFLICT", msg, d}
	}
	custom := &APIError{Status: 418, Code: "TEAPOT", Message: "short and stout", Details: map[string]any{"x": 1}}
	cases := []struct {
		err  error
		want want
	}{
		{custom, want{418, "TEAPOT", "short and stout", map[string]any{"x": 1}}},
		{policy.Invalid("amount", "must be positive"), want{400, "INVALID_REQUEST", "amount: must be positive", map[string]any{"field": "amount"}}},
		{policy.Invalid("", "not JSON"), want{400, "INVALID_REQUEST", "not JSON", nil}},
		{&policy.PermissionError{Permission: "calls", AuthID: "SA_X"}, want{403, "PERMISSION_DENIED", "permission calls is off",
			map[string]any{"permission": "calls", "auth_id": "SA_X"}}},
		{&balance.InsufficientError{AuthID: "SA_P", Required: amt("0.01"), Available: amt("0.004")}, want{402, "INSUFFICIENT_BALANCE",
			"balance too low for this request", map[string]any{"auth_id": "SA_P", "required": amt("0.01").String(), "available": amt("0.004").String()}}},
		{&balance.SuspendedError{AuthID: "SA_S"}, conflict("parent_suspended", "an ancestor is suspended", "auth_id", "SA_S")},
		{policy.ErrInvalidCredentials, want{401, "INVALID_CREDENTIALS", "missing, unknown or wrong credentials", nil}},
		{policy.ErrTooManyAuthFailures, want{429, "TOO_MANY_AUTH_FAILURES", "too many failed authentication attempts from this address", nil}},
		{policy.ErrForbidden, want{403, "FORBIDDEN", "not allowed for these credentials", nil}},
		{policy.ErrKYCRequired, want{403, "KYC_REQUIRED", "KYC verification required", nil}},
		{policy.ErrRouteNotFound, want{404, "ROUTE_NOT_FOUND", "no route for this method and path", nil}},
		{policy.ErrResourceNotFound, want{404, "NOT_FOUND", "no such resource", nil}},
		{balance.ErrNotFound, want{404, "NOT_FOUND", "no such resource", nil}},
		{policy.ErrTooLarge, want{413, "PAYLOAD_TOO_LARGE", "request body over the configured limit", nil}},
		{balance.ErrUnavailable, want{503, "STORE_UNAVAILABLE", "the store cannot be reached; nothing was charged", nil}},
		{balance.ErrInsufficientBalance, want{402, "INSUFFICIENT_BALANCE", "balance too low for this request", nil}},
		{policy.ErrMaxDepth, conflict("max_depth", errText)},
		{balance.ErrAccountClosed, conflict("account_closed", "the account is closed")},
		{balance.ErrHasSubaccounts, conflict("has_subaccounts", "the account has subaccounts")},
		{balance.ErrSubaccountLimit, conflict("subaccount_limit", "the parent has reached max_subaccounts")},
		{balance.ErrParentSuspended, conflict("parent_suspended", "an ancestor is suspended")},
		{balance.ErrBalanceNotZero, conflict("balance_not_zero", "a main account closes only with a zero balance: credit or debit it to 0.00 first")},
		{balance.ErrSharedBalance, conflict("shared_balance", "the account has no own balance")},
		{balance.ErrIdempotencyReused, conflict("idempotency_key_reused", errText)},
		{balance.ErrBalanceRange, want{400, "INVALID_REQUEST", errText, map[string]any{"field": "amount"}}},
		{balance.ErrExists, want{500, "INTERNAL_ERROR", "internal error", nil}},
		{errors.New("something else"), want{500, "INTERNAL_ERROR", "internal error", nil}},
		{nil, want{500, "INTERNAL_ERROR", "internal error", nil}},
	}
	for _, c := range cases {
		for _, err := range []error{c.err, fmt.Errorf("wrapped: %w", c.err)} {
			if c.err == nil && err != nil {
				continue
			}
			e := ErrorFor(err)
			got := want{e.Status, e.Code, e.Message, e.Details}
			if len(got.details) == 0 {
				got.details = nil
			}
			w := c.want
			if w.message == errText {
				w.message = err.Error()
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("ErrorFor(%v):\n got %+v\nwant %+v", err, got, w)
			}
		}
	}
}

// errText stands for the text of the error mapped (wrapping included) as the message.
const errText = "<the error's text>"

type want struct {
	status        int
	code, message string
	details       map[string]any
}

// TestErrorForIsFresh: callers add to the details of what ErrorFor answers (the currency of
// a 402, the account of a shared_balance conflict), so two answers never share a map.
func TestErrorForIsFresh(t *testing.T) {
	ins := &balance.InsufficientError{AuthID: "SA_P"}
	a, b := ErrorFor(ins), ErrorFor(ins)
	a.Details["currency"] = "USD"
	if _, ok := b.Details["currency"]; ok || a == b {
		t.Fatal("two answers share their details")
	}
	c, d := ErrorFor(balance.ErrSharedBalance), ErrorFor(balance.ErrSharedBalance)
	c.Details["auth_id"] = "SA_X"
	if _, ok := d.Details["auth_id"]; ok {
		t.Fatal("two conflicts share their details")
	}
}

// TestAppendErrorBody pins the error body of API.md §3: the fields in order, strings
// escaped, details only when there are some.
func TestAppendErrorBody(t *testing.T) {
	e := &APIError{Status: 402, Code: "INSUFFICIENT_BALANCE", Message: `say "no" <now>`,
		Details: map[string]any{"required": "0.01", "available": "0.004", "limit": 3}}
	got := string(AppendErrorBody([]byte("keep:"), e, []byte("rid-1")))
	wantBody := `keep:{"status":"error","error":{"code":"INSUFFICIENT_BALANCE","message":"say \"no\" \u003cnow\u003e",` +
		`"details":{"available":"0.004","limit":3,"required":"0.01"}},"request_id":"rid-1"}`
	if got != wantBody {
		t.Fatalf("body\n got %s\nwant %s", got, wantBody)
	}
	got = string(AppendErrorBody(nil, &APIError{Status: 500, Code: "INTERNAL_ERROR", Message: "internal error"}, nil))
	if got != `{"status":"error","error":{"code":"INTERNAL_ERROR","message":"internal error"},"request_id":""}` {
		t.Fatalf("body without details: %s", got)
	}
	var v struct {
		Status string `json:"status"`
		Error  struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(wantBody[len("keep:"):]), &v); err != nil || v.Status != "error" || v.Error.Code != "INSUFFICIENT_BALANCE" || v.RequestID != "rid-1" {
		t.Fatalf("not the contract's shape: %+v %v", v, err)
	}
}
