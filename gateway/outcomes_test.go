package gateway

import (
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/wire"
)

// TestOutcomeAndRefusalLabels pins the label values of gateway_requests_total{outcome} and
// gateway_refusals_total{reason} (README, Metrics): every outcome's name, which outcomes are
// refusals and under which reason, and the refusals that have no route.
func TestOutcomeAndRefusalLabels(t *testing.T) {
	want := map[Outcome][2]string{ // name, refusal reason ("" = no refusal)
		OutcomeOK:                  {"ok", ""},
		OutcomeInvalidCredentials:  {"invalid_credentials", "invalid_credentials"},
		OutcomeAuthThrottled:       {"auth_throttled", "too_many_auth_failures"},
		OutcomeForbidden:           {"forbidden", "forbidden"},
		OutcomeSuspended:           {"suspended", "suspended"},
		OutcomePermissionDenied:    {"permission_denied", "permission_denied"},
		OutcomeKYCRequired:         {"kyc_required", "kyc_required"},
		OutcomeRateLimited:         {"rate_limited", "rate_limited"},
		OutcomeInsufficientBalance: {"insufficient_balance", "insufficient_balance"},
		OutcomeWithdrawn:           {"withdrawn", "withdrawn"},
		OutcomeCPSLimited:          {"cps_limited", "cps_limited"},
		OutcomeConcurrencyLimited:  {"concurrency_limited", "concurrency_limited"},
		OutcomeStoreUnavailable:    {"store_unavailable", "store_unavailable"},
		OutcomeUpstreamUnavailable: {"upstream_unavailable", ""},
		OutcomeUpstreamTimeout:     {"upstream_timeout", ""},
		OutcomeUpstream5xx:         {"upstream_5xx", ""},
		OutcomeError:               {"error", ""},
		OutcomeNumberNotOwned:      {"number_not_owned", "number_not_owned"},
		OutcomeInvalidRequest:      {"invalid_request", "invalid_request"},
	}
	if len(want) != int(outcomeCount) {
		t.Fatalf("%d outcomes, want %d", outcomeCount, len(want))
	}
	for o := range outcomeCount {
		w, ok := want[o]
		if !ok || o.String() != w[0] || refusalReason[o] != w[1] || refusalLabel(int(o)) != w[1] {
			t.Errorf("outcome %d: name %q, refusal %q; want %q", o, o.String(), refusalReason[o], w)
		}
	}
	if s := outcomeCount.String(); s != "unknown" {
		t.Errorf("an outcome past the last is %q", s)
	}
	for i, w := range map[int]string{refusalRouteNotFound: "route_not_found", refusalTooLarge: "payload_too_large",
		refusalInvalidRequest: "invalid_request"} {
		if l := refusalLabel(i); l != w {
			t.Errorf("refusal %d: %q, want %q", i, l, w)
		}
	}
	if ReasonRouteNotFound != "route_not_found" || ReasonPayloadTooLarge != "payload_too_large" || ReasonInvalidRequest != "invalid_request" {
		t.Errorf("labels of the refusals without a route: %q %q %q", ReasonRouteNotFound, ReasonPayloadTooLarge, ReasonInvalidRequest)
	}
}

// TestStoreRefusalsAreOutcomes: every refusal of the admit script is an outcome named, and
// counted, by its row of the refusal table, so a new row needs no line in the gateway.
func TestStoreRefusalsAreOutcomes(t *testing.T) {
	for r := range wire.Refusals {
		row, ok := wire.ForReason(balance.Reason(r))
		if !ok {
			if balance.Reason(r) != balance.Admitted {
				t.Errorf("reason %d has no row", r)
			}
			continue
		}
		if o := outcomeOf(balance.Reason(r)); o.String() != row.Label || refusalReason[o] != row.Label {
			t.Errorf("reason %d: outcome %q counted as %q, want %q", r, o, refusalReason[o], row.Label)
		}
	}
}
