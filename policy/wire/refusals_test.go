package wire

import (
	"reflect"
	"regexp"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

// TestRefusalTable: every row is whole (a snake_case label, an error status, an
// UPPER_SNAKE code, a message), no two rows share a label nor give one code two statuses,
// and the rows by name
// are the table's.
func TestRefusalTable(t *testing.T) {
	if r := Refusals[balance.Admitted]; r != (Refusal{}) {
		t.Errorf("row 0 (admitted) is %+v, want none", r)
	}
	rows := []*Refusal{TooManyAuthFailures, StoreUnavailable, RouteNotFound, PayloadTooLarge, InvalidRequest}
	for r := 1; r < len(Refusals); r++ {
		rows = append(rows, &Refusals[r])
	}
	label, code := regexp.MustCompile(`^[a-z][a-z0-9_]*$`), regexp.MustCompile(`^[A-Z][A-Z_]*$`)
	labels, codes := map[string]bool{}, map[string]int{}
	for _, r := range rows {
		if !label.MatchString(r.Label) || r.Status < 400 || r.Status > 599 || !code.MatchString(r.Code) || r.Message == "" {
			t.Errorf("row %+v is not whole", *r)
		}
		// Two reasons may give one answer (withdrawn is answered as store_unavailable), but
		// a code always has one status, and a label names one row.
		if labels[r.Label] || (codes[r.Code] != 0 && codes[r.Code] != r.Status) {
			t.Errorf("row %+v repeats a label, or a code with another status", *r)
		}
		labels[r.Label], codes[r.Code] = true, r.Status
	}
	named := map[balance.Reason]*Refusal{balance.ReasonCredentials: InvalidCredentials, balance.ReasonGone: Forbidden,
		balance.ReasonSuspended: Suspended, balance.ReasonPermission: PermissionDenied, balance.ReasonKYC: KYCRequired,
		balance.ReasonRateLimited: RateLimited, balance.ReasonInsufficient: InsufficientBalance}
	for r, row := range named {
		if got, ok := ForReason(r); !ok || got != row {
			t.Errorf("reason %d: row %+v, the name points at %+v", r, got, row)
		}
	}
	for _, r := range []balance.Reason{balance.Admitted, balance.Reason(len(Refusals)), 255} {
		if row, ok := ForReason(r); ok {
			t.Errorf("ForReason(%d) = %+v, want none", r, row)
		}
	}
}

// TestInsufficientBuiltOnce: the 402 of a refused admit and the 402 of a refused money
// movement are the same answer (the gateway adds the path account's currency, the management
// API the account's).
func TestInsufficientBuiltOnce(t *testing.T) {
	req, avail := model.Amount(10_000), model.Amount(4_000)
	admit := Refused(&balance.Decision{Reason: balance.ReasonInsufficient, AuthID: "SA_P", Price: req, Available: avail}, "calls", "EUR")
	money := ErrorFor(&balance.InsufficientError{AuthID: "SA_P", Required: req, Available: avail})
	money.Details["currency"] = "EUR"
	if !reflect.DeepEqual(admit, money) {
		t.Fatalf("admit %+v\nmoney %+v", admit, money)
	}
}

// TestRefusedIsFresh: what Refused answers is the caller's to add to; the table is untouched.
func TestRefusedIsFresh(t *testing.T) {
	before := Refusals
	d := &balance.Decision{Reason: balance.ReasonSuspended, AuthID: "SA_S"}
	a, b := Refused(d, "", ""), Refused(d, "", "")
	a.Details["x"] = 1
	a.Message = "changed"
	if _, ok := b.Details["x"]; ok || b.Message == "changed" || Refusals != before {
		t.Fatal("answers share state with each other or with the table")
	}
}
