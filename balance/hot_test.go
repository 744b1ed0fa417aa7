package balance_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// TestHotFieldsOneList: the scripts pack and unpack an account's hot value with the same
// fields, in the same order, as the Go side (hotFields), on every store.
func TestHotFieldsOneList(t *testing.T) {
	runOnStores(t, false, func(t *testing.T, s *balance.Store) {
		got, err := balance.ScriptHotFields(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, balance.HotFields()) {
			t.Fatalf("scripts' HOTF %v, Go's hotFields %v", got, balance.HotFields())
		}
	})
}

// TestHotValueIsOneField: a new record keeps its hot fields in "hv" alone (none of them as
// a plain field), and an admit, a credit and an update write them there.
func TestHotValueIsOneField(t *testing.T) {
	runOnStores(t, false, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "10.00")
		sa := testkit.NewAccount(t, s, m, "")
		if d := admDo(t, s, admReq(sa, sa, model.PermCalls, false, "0.25")); d.Reason != balance.Admitted {
			t.Fatalf("admit: %+v", d)
		}
		if err := s.UpdateAccount(ctx, sa.Account, balance.Change{RateLimit: ptr(7)}); err != nil {
			t.Fatal(err)
		}
		for _, a := range []*testkit.Account{m, sa} {
			key := balance.AccountKey(a.Root, a.ID)
			fields, err := s.Client().HKeys(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(fields, "hv") {
				t.Errorf("%s: no hv among %v", a.ID, fields)
			}
			for _, f := range balance.HotFields() {
				if slices.Contains(fields, f) {
					t.Errorf("%s: hot field %s stored plain", a.ID, f)
				}
			}
		}
		got, err := balance.AccountFields(ctx, s.Client(), balance.AccountKey(sa.Root, sa.ID), "rate", "status", "p_sms")
		if err != nil || !slices.Equal(got, []string{"7", "active", "1"}) {
			t.Errorf("subaccount rate, status, p_sms = %v, %v", got, err)
		}
		if b := testkit.Balance(t, s, m); b != testkit.Amt("9.75") {
			t.Errorf("main balance %v, want 9.75", b)
		}
	})
}

// TestPlainRecordsUpgrade: records written before "hv" (their hot fields plain) read the
// same, are decided on by the admit and moved by every kind of script as before, and are
// packed into "hv" by the first write, their plain hot fields deleted: an upgrade needs no
// migration step.
func TestPlainRecordsUpgrade(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		rdb := s.Client()
		m := testkit.NewAccount(t, s, nil, "10.00", testkit.Credit("1.00"))
		sa := testkit.NewAccount(t, s, m, "")
		own := testkit.NewAccount(t, s, m, "", testkit.Own())
		off := testkit.NewAccount(t, s, m, "", testkit.Perms(model.Perms{SMS: true}))
		keys := map[string]string{}
		before := map[string]*model.Account{}
		for _, a := range []*testkit.Account{m, sa, own, off} {
			keys[a.ID] = balance.AccountKey(a.Root, a.ID)
			if err := balance.ToPlainRecord(ctx, rdb, keys[a.ID]); err != nil {
				t.Fatal(err)
			}
			x, err := s.AccountIn(ctx, a.Root, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			before[a.ID] = x
		}
		if before[m.ID].Balance != testkit.Amt("10.00") || before[m.ID].CreditLimit != testkit.Amt("1.00") ||
			before[off.ID].Perms.Calls || !before[off.ID].Perms.SMS || before[sa.ID].RateLimit != 1000 {
			t.Fatalf("plain records read back wrong: main %+v, off %+v", before[m.ID], before[off.ID])
		}
		packed := func(a *testkit.Account, want bool) {
			t.Helper()
			fields, err := rdb.HKeys(ctx, keys[a.ID]).Result()
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(fields, "hv") != want {
				t.Fatalf("%s: hv present = %v, want %v (%v)", a.ID, !want, want, fields)
			}
			for _, f := range balance.HotFields() {
				if slices.Contains(fields, f) == want {
					t.Fatalf("%s: plain %s present = %v with hv = %v", a.ID, f, want, want)
				}
			}
		}
		// The admit reads plain records: the permission refusal of off, then a charge to m.
		if d := admDo(t, s, admReq(off, off, model.PermCalls, false, "0.10")); d.Reason != balance.ReasonPermission {
			t.Fatalf("plain record without p_calls: %+v", d)
		}
		packed(off, false) // a refusal writes nothing
		if d := admDo(t, s, admReq(sa, sa, model.PermCalls, false, "0.25")); d.Reason != balance.Admitted {
			t.Fatalf("admit on plain records: %+v", d)
		}
		packed(m, true)
		packed(sa, true)
		// A credit, a transfer and a credit transfer move plain records, and pack them.
		if _, _, err := s.Credit(ctx, own.Account, testkit.Amt("2.00"), policy.NewTransferID(), "t"); err != nil {
			t.Fatal(err)
		}
		packed(own, true)
		if err := balance.ToPlainRecord(ctx, rdb, keys[own.ID]); err != nil {
			t.Fatal(err)
		}
		if err := balance.ToPlainRecord(ctx, rdb, keys[m.ID]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Transfer(ctx, m.Account, own.Account, testkit.Amt("1.50"), policy.NewTransferID(), "t", balance.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		packed(m, true)
		packed(own, true)
		// A suspension of a plain record is seen by the next admit.
		if err := balance.ToPlainRecord(ctx, rdb, keys[sa.ID]); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateAccount(ctx, sa.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
			t.Fatal(err)
		}
		packed(sa, true)
		if d := admDo(t, s, admReq(sa, sa, model.PermCalls, false, "0.25")); d.Reason != balance.ReasonSuspended {
			t.Fatalf("admit after suspending a plain record: %+v", d)
		}
		// The money is where it should be: 10 - 0.25 - 1.50 on m, 2 + 1.50 on own.
		for _, c := range []struct {
			a    *testkit.Account
			want string
		}{{m, "8.25"}, {own, "3.50"}} {
			if b := testkit.Balance(t, s, c.a); b != testkit.Amt(c.want) {
				t.Errorf("%s: balance %v, want %s", c.a.ID, b, c.want)
			}
		}
		after, err := s.AccountIn(ctx, off.Root, off.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != before[off.ID].Status || after.Perms != before[off.ID].Perms || after.RateLimit != before[off.ID].RateLimit {
			t.Errorf("untouched plain record changed: %+v, was %+v", after, before[off.ID])
		}
	})
}
