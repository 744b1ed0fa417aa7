package admin

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
)

// TestUsageReportsCompactedMonths: once a day's usage is compacted into its month, the Usage
// API answers it as a row dated with the month, with the same count and charged (own and
// include_subaccounts), and a start/end range inside that month still includes it.
func TestUsageReportsCompactedMonths(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		ctx := context.Background()
		m := e.main("")
		e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + m.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"10"}`})
		c := e.child(m, "")
		for _, a := range []account{m, c, c} {
			rec, err := st.Account(ctx, a.id)
			if err != nil {
				t.Fatal(err)
			}
			var d balance.Decision
			req := &balance.AdmitRequest{Keys: balance.AdmitKeys(rec.Root, rec.ID, rec.Chain), CallerPos: 0,
				TokenHash: []byte(policy.HashToken([]byte(a.tok)).Hex()), Price: 10_000, Route: "call",
				RequestID: []byte(policy.NewTransferID())}
			if err := st.Admit(ctx, req, &d); err != nil || !d.Admitted {
				t.Fatalf("admit %s: %v %+v", a.id, err, d)
			}
		}
		now := time.Now().UTC()
		today, month := now.Format(time.DateOnly), now.Format("2006-01")
		mc := m.cred()
		get := func(query string) []any {
			t.Helper()
			return e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Usage/" + query, Cred: &mc}).JSON(t)["objects"].([]any)
		}
		row := func(date string, count float64, charged string) []any {
			return []any{map[string]any{"date": date, "route": "call", "count": count, "charged": charged}}
		}
		if got, want := get("?include_subaccounts=true"), row(today, 3, "0.03"); !reflect.DeepEqual(got, want) {
			t.Fatalf("before compaction %v, want %v", got, want)
		}
		// compact every day up to tomorrow (the admits may have been just before midnight)
		cutoff := now.AddDate(0, 0, 2).Format(time.DateOnly)
		if n, err := st.CompactUsage(ctx, m.id, []string{m.id, c.id}, cutoff); err != nil || n == 0 {
			t.Fatalf("compact: %d %v", n, err)
		}
		q := "?include_subaccounts=true&start=" + today + "&end=" + today
		for _, tc := range []struct {
			query string
			want  []any
		}{{"", row(month, 1, "0.01")}, {"?include_subaccounts=true", row(month, 3, "0.03")}, {q, row(month, 3, "0.03")}} {
			if got := get(tc.query); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%q after compaction %v, want %v", tc.query, got, tc.want)
			}
		}
	})
}
