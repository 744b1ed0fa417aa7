package policy

import (
	"testing"

	"github.com/tenantgw/gateway/policy/model"
)

func TestReaches(t *testing.T) {
	const m, r, c, sib = "MA_1", "SA_R", "SA_C", "SA_S"
	cases := []struct {
		caller, target string
		chain          []string
		want           bool
	}{
		{m, m, nil, true},
		{m, c, []string{r, m}, true},
		{r, c, []string{r, m}, true},
		{c, c, []string{r, m}, true},
		{c, r, []string{m}, false},      // never a parent
		{c, m, nil, false},              // never the root
		{sib, c, []string{r, m}, false}, // never a sibling
	}
	for _, x := range cases {
		if got := Reaches(x.caller, x.target, x.chain); got != x.want {
			t.Errorf("Reaches(%s, %s, %v) = %v", x.caller, x.target, x.chain, got)
		}
	}
}

func TestKYCCallsBlocked(t *testing.T) {
	p := &model.Account{KYCMode: model.KYCCustomer, KYCStatus: model.KYCPending}
	a := &model.Account{KYCMode: model.KYCPersonal}
	if !KYCCallsBlocked(a, []*model.Account{p}) || KYCBlockedSelf(a) {
		t.Error("personal_use inherits the parent's block")
	}
	p.KYCStatus = model.KYCVerified
	if KYCCallsBlocked(a, []*model.Account{p}) {
		t.Error("verified parent blocks")
	}
}
