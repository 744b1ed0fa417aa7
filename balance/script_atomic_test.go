package balance_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// hashesOf reads the given hashes whole: what a failed script must leave as it was.
func hashesOf(t *testing.T, s *balance.Store, keys ...string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, k := range keys {
		m, err := s.Client().HGetAll(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = m
	}
	return out
}

// TestRefundSettleErrorWritesNothing: when the refund or the settle script cannot finish (a
// usage counter it would add to is not an integer, or would leave the integer range), it
// answers an error and has written nothing — neither the balance, nor a counter, nor the
// marker — so a retry or a reconciliation by hand starts from a consistent state.
func TestRefundSettleErrorWritesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		f := admToday() + "|voice.call|"
		for _, c := range []struct {
			name, field, value string
			settle             bool
		}{
			{"refund, charged not an integer", "c", "x", false},
			{"refund, count at the bottom of int64", "n", "-9223372036854775808", false},
			{"settle, charged not an integer", "c", "x", true},
			{"settle, settlements not an integer", "s", "1.5", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				m := testkit.NewAccount(t, s, nil, "1.00")
				k := testkit.NewAccount(t, s, m, "")
				req := admReq(k, k, model.PermNone, false, "0.01")
				if d := admDo(t, s, req); !d.Admitted {
					t.Fatalf("admit: %+v", d)
				}
				uk := balance.UsageKey(k.Root, k.ID)
				if err := s.Client().HSet(ctx, uk, f+c.field, c.value).Err(); err != nil {
					t.Fatal(err)
				}
				mk, _ := s.MarkerKey(m.Root, string(req.RequestID))
				keys := []string{balance.AccountKey(m.Root, m.ID), balance.AccountKey(k.Root, k.ID), uk, mk}
				before := hashesOf(t, s, keys...)
				var err error
				if c.settle {
					_, _, err = s.Settle(ctx, req, 20_000)
				} else {
					_, _, err = s.Refund(ctx, req)
				}
				if err == nil {
					t.Fatal("the script succeeded on a counter it cannot add to")
				}
				if balance.MaybeRan(err) {
					t.Errorf("MaybeRan(%v) = true for a script's error answer", err)
				}
				if after := hashesOf(t, s, keys...); !reflect.DeepEqual(before, after) {
					t.Fatalf("a failed script wrote:\nbefore %v\nafter  %v", before, after)
				}
			})
		}
	})
}

// TestDeleteErrorWritesNothing: when the usage to fold cannot be added (a counter of the
// subtree is not an integer, or the parent's folded counter would leave the range), the
// delete answers an error and has written nothing: no account gone, no balance moved, no
// usage folded.
func TestDeleteErrorWritesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		f := admToday() + "|voice.call|"
		for _, c := range []struct {
			name, key, field, value string
		}{
			{"a deleted account's counter is not an integer", "child", f + "n", "1e3"},
			{"the parent's folded counter would leave the range", "main", f + "dc", "9007199254740991"},
		} {
			t.Run(c.name, func(t *testing.T) {
				m := testkit.NewAccount(t, s, nil, "1")
				r := testkit.NewAccount(t, s, m, "0.5", testkit.Own())
				k := testkit.NewAccount(t, s, r, "")
				if d := admDo(t, s, admReq(k, k, model.PermNone, false, "0.01")); !d.Admitted {
					t.Fatalf("admit: %+v", d)
				}
				target := balance.UsageKey(k.Root, k.ID)
				if c.key == "main" {
					target = balance.UsageKey(m.Root, m.ID)
				}
				if err := s.Client().HSet(ctx, target, c.field, c.value).Err(); err != nil {
					t.Fatal(err)
				}
				keys := []string{balance.AccountKey(m.Root, m.ID), balance.AccountKey(r.Root, r.ID), balance.AccountKey(k.Root, k.ID),
					balance.UsageKey(m.Root, m.ID), balance.UsageKey(k.Root, k.ID)}
				before := hashesOf(t, s, keys...)
				kidsBefore, _ := s.Children(ctx, m.Root, m.ID)
				if _, err := s.DeleteAccount(ctx, m.Account, r.Account, true, newID("TR")); err == nil {
					t.Fatal("the delete succeeded")
				}
				if after := hashesOf(t, s, keys...); !reflect.DeepEqual(before, after) {
					t.Fatalf("a failed delete wrote:\nbefore %v\nafter  %v", before, after)
				}
				if kids, _ := s.Children(ctx, m.Root, m.ID); !reflect.DeepEqual(kids, kidsBefore) {
					t.Fatalf("children %v, were %v", kids, kidsBefore)
				}
			})
		}
	})
}
