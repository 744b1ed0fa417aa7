package balance_test

import (
	"context"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestAdmitPermissions pins how a route's typed permission maps to the account's flag: each
// permission is refused when its own flag is off (naming the account) and admitted when only
// its own flag is on; PermNone needs no flag; a value naming no flag is a bad request.
func TestAdmitPermissions(t *testing.T) {
	set := func(p model.Permission, v bool, ps *model.Perms) {
		switch p {
		case model.PermCalls:
			ps.Calls = v
		case model.PermSMS:
			ps.SMS = v
		case model.PermCDR:
			ps.CDR = v
		case model.PermSub:
			ps.Sub = v
		}
	}
	admStores(t, func(t *testing.T, s *balance.Store) {
		m := testkit.NewAccount(t, s, nil, "1.00")
		for _, p := range []model.Permission{model.PermCalls, model.PermSMS, model.PermCDR, model.PermSub} {
			allBut := model.Perms{Calls: true, SMS: true, CDR: true, Sub: true}
			set(p, false, &allBut)
			var only model.Perms
			set(p, true, &only)
			off := testkit.NewAccount(t, s, m, "", testkit.Perms(allBut))
			if d := admDo(t, s, admReq(off, off, p, false, "0.01")); d.Admitted || d.Reason != balance.ReasonPermission || d.AuthID != off.ID {
				t.Errorf("%s off: %+v, want a permission refusal naming %s", p, d, off.ID)
			}
			on := testkit.NewAccount(t, s, m, "", testkit.Perms(only))
			if d := admDo(t, s, admReq(on, on, p, false, "0.01")); !d.Admitted {
				t.Errorf("%s on (the only flag): %+v, want admitted", p, d)
			}
		}
		none := testkit.NewAccount(t, s, m, "", testkit.Perms(model.Perms{}))
		if d := admDo(t, s, admReq(none, none, model.PermNone, false, "0.01")); !d.Admitted {
			t.Errorf("no permission needed, no flag on: %+v, want admitted", d)
		}
		var d balance.Decision
		if err := s.Admit(context.Background(), admReq(none, none, model.Permission(200), false, "0.01"), &d); err == nil || d.Admitted {
			t.Errorf("permission 200: %+v, %v; want an error", d, err)
		}
	})
}
