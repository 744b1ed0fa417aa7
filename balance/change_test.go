package balance_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/model"
)

func ptr[T any](v T) *T { return &v }

// TestUpdateAccountChange applies a change of every field of balance.Change and reads the
// account back: exactly those fields changed; then clears one nullable field and leaves
// another alone.
func TestUpdateAccountChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := mainAcct(t, s)
		a := subAcct(t, s, m, false)
		before := get(t, s, a.ID)
		ch := balance.Change{
			Name: ptr("renamed"), Desc: balance.Nullable{Set: true, Value: ptr("a desc")},
			Email: balance.Nullable{Set: true, Value: ptr("ops@example.com")}, BusinessType: balance.Nullable{Set: true, Value: ptr("isp")},
			KYCMode: ptr(model.KYCCustomer), KYCStatus: ptr(model.KYCPending),
			Perms:     map[model.Permission]bool{model.PermCalls: false, model.PermCDR: false, model.PermSub: true},
			RateLimit: ptr(7), MaxSub: ptr(3), CreditLimit: ptr[model.Amount](1_500_000),
			Status: model.StatusSuspended, WantOwn: ptr(true),
		}
		if ch.Empty() {
			t.Fatal("a change of every field is Empty")
		}
		if err := s.UpdateAccount(ctx, before, ch); err != nil {
			t.Fatal(err)
		}
		after := get(t, s, a.ID)
		want := *before
		want.Name, want.Desc, want.Email, want.BusinessType = "renamed", ptr("a desc"), ptr("ops@example.com"), ptr("isp")
		want.KYCMode, want.KYCStatus = model.KYCCustomer, model.KYCPending
		want.Perms = model.Perms{Calls: false, SMS: before.Perms.SMS, CDR: false, Sub: true}
		want.RateLimit, want.MaxSub, want.CreditLimit = 7, 3, 1_500_000
		want.Status, want.Own, want.Balance = model.StatusSuspended, true, 0
		want.Updated = after.Updated
		if !reflect.DeepEqual(after, &want) {
			t.Fatalf("after the change:\n%+v\nwant\n%+v", after, &want)
		}

		// Clear desc (null), leave email alone.
		if err := s.UpdateAccount(ctx, after, balance.Change{Desc: balance.Nullable{Set: true}}); err != nil {
			t.Fatal(err)
		}
		cleared := get(t, s, a.ID)
		if cleared.Desc != nil || cleared.Email == nil || *cleared.Email != "ops@example.com" || cleared.Name != "renamed" {
			t.Fatalf("after clearing desc: desc %v, email %v, name %q", cleared.Desc, cleared.Email, cleared.Name)
		}
	})
}

// TestChangeEmpty checks that a change of any one field is not Empty (Retention and
// CloseTrID only qualify a status change).
func TestChangeEmpty(t *testing.T) {
	if ch := (balance.Change{}); !ch.Empty() {
		t.Fatal("the zero Change is not Empty")
	}
	typ := reflect.TypeFor[balance.Change]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var ch balance.Change
		v := reflect.ValueOf(&ch).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Map:
			v.Set(reflect.MakeMap(f.Type))
			v.SetMapIndex(reflect.ValueOf(model.PermSMS), reflect.ValueOf(true))
		case reflect.String:
			v.SetString("x")
		case reflect.Struct: // Nullable
			v.FieldByName("Set").SetBool(true)
		case reflect.Int64: // Retention
			v.SetInt(int64(time.Hour))
		default:
			t.Fatalf("field %s of kind %s: teach this test", f.Name, f.Type.Kind())
		}
		qualifier := f.Name == "Retention" || f.Name == "CloseTrID"
		if ch.Empty() != qualifier {
			t.Errorf("a Change of %s only: Empty() = %v", f.Name, ch.Empty())
		}
	}
}
