package gateway

import (
	"context"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestCallerID: on a route with caller_id, the gateway reads the field from a JSON or form
// body and the admit refuses (403 NUMBER_NOT_OWNED naming number and field, nothing charged,
// nothing forwarded) a number the path account does not own; a body without the field, or
// with a bad one, is 400 naming it; an owned number goes through. Refusals are counted under
// their reasons.
func TestCallerID(t *testing.T) {
	reg := prometheus.NewRegistry()
	gm, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	routes := append([]policyRouteSpec(nil), testRoutes...)
	routes[0].CallerID = "from"
	routes[2].CallerID = "src"
	f := newFixture(t, func(o *Options) { o.Routes = routes; o.Metrics = gm })
	ctx := context.Background()
	m := f.mk(nil, "1")
	k := f.mk(m, "")
	const mine, parents = "+14155550100", "+14155550101"
	for _, n := range []string{mine, parents} {
		if _, err := f.store.AddNumber(ctx, m.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.MoveNumber(ctx, m.Root, m.ID, mine, k.ID); err != nil {
		t.Fatal(err)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, c := range []struct {
		name   string
		c      call
		status int
		code   string
		detail map[string]any
	}{
		{"json, owned", call{path: callPath(k), as: k, body: `{"to": "+1999", "from": "+14155550100"}`}, 200, "", nil},
		{"form, owned", call{path: smsPath(k), as: k, header: form, body: "dst=%2B1999&src=%2B14155550100"}, 200, "", nil},
		{"the parent's number", call{path: callPath(k), as: k, body: `{"from": "+14155550101"}`}, 403, "NUMBER_NOT_OWNED",
			map[string]any{"number": parents, "field": "from"}},
		{"unknown number", call{path: smsPath(k), as: k, header: form, body: "src=%2B14155559999"}, 403, "NUMBER_NOT_OWNED",
			map[string]any{"number": "+14155559999", "field": "src"}},
		{"the main account's path, k's number", call{path: callPath(m), as: m, body: `{"from": "+14155550100"}`}, 403, "NUMBER_NOT_OWNED",
			map[string]any{"number": mine, "field": "from"}},
		{"missing", call{path: callPath(k), as: k, body: `{"to": "+1999"}`}, 400, "INVALID_REQUEST", map[string]any{"field": "from"}},
		{"twice", call{path: callPath(k), as: k, body: `{"from": "+14155550100", "from": "+14155550101"}`}, 400, "INVALID_REQUEST",
			map[string]any{"field": "from"}},
		{"not E.164", call{path: callPath(k), as: k, body: `{"from": "14155550100"}`}, 400, "INVALID_REQUEST", map[string]any{"field": "from"}},
		{"form '+' is a space", call{path: smsPath(k), as: k, header: form, body: "src=+14155550100"}, 400, "INVALID_REQUEST",
			map[string]any{"field": "src"}},
		{"route without caller_id", call{method: "GET", path: callPath(k), as: k}, 200, "", nil},
	} {
		before, calls, texts := f.bal(m), f.voice.count(), f.sms.count()
		a := f.do(c.c)
		if a.Status != c.status {
			t.Fatalf("%s: %d %s", c.name, a.Status, a.Body)
		}
		if c.status == 200 {
			continue
		}
		if a.Err.Error.Code != c.code || !reflect.DeepEqual(a.Err.Error.Details, c.detail) || a.Header["X-Charge"] != "0.00" {
			t.Errorf("%s: %s %v (X-Charge %q)", c.name, a.Err.Error.Code, a.Err.Error.Details, a.Header["X-Charge"])
		}
		if f.bal(m) != before || f.voice.count() != calls || f.sms.count() != texts {
			t.Errorf("%s: charged or forwarded", c.name)
		}
	}
	got := scrape(t, reg)
	for k, want := range map[string]float64{
		`gateway_refusals_total{reason="number_not_owned"}`:                     3,
		`gateway_refusals_total{reason="invalid_request"}`:                      4,
		`gateway_requests_total{outcome="number_not_owned",route="voice.call"}`: 2,
		`gateway_requests_total{outcome="invalid_request",route="voice.call"}`:  3,
		`gateway_requests_total{outcome="ok",route="sms.send"}`:                 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}
