package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// callFixture serves testRoutes with voice.call a call route: 0.60 a minute by the second,
// grants of 60 s (at least 10 s, at most 600 s), price 0.0100.
func callFixture(t *testing.T) *fixture {
	spec := balance.NewCallSpec(balance.CallSpec{Tariff: model.Tariff{Rate: 600_000, First: 1, Next: 1},
		Grant: 60, Max: 600, Min: 10, RingTimeout: 30, Grace: 30, Commit: true, Upstream: "voice"})
	return newFixture(t, func(o *Options) {
		o.Upstreams["voice"] = Upstream{URL: o.Upstreams["voice"].URL, Timeout: 300 * time.Millisecond, ConnectTimeout: time.Second}
		o.Calls = []*balance.CallSpec{spec}
	})
}

// TestCallRoute: a call route's admit opens a hold; the backend and the client get
// X-Call-Hold-ID and X-Call-Max-Duration (a client's own are dropped); an upstream that fails
// voids the hold and refunds the price, a 4xx voids it and the price stands; the call's own
// refusals answer 429 CONCURRENCY_LIMITED and 402 with the required amount.
func TestCallRoute(t *testing.T) {
	f := callFixture(t)
	ctx := context.Background()
	m := f.mk(nil, "1.00")
	k := f.mk(m, "", testkit.MaxCalls(1))
	a := f.do(call{path: callPath(k), as: k, header: map[string]string{"X-Call-Hold-ID": "HL_FORGED", "X-Call-Max-Duration": "99999"}})
	id, maxDur := a.Header["X-Call-Hold-Id"], a.Header["X-Call-Max-Duration"]
	if a.Status != 200 || len(id) != 23 || id[:3] != "HL_" || maxDur != "60" || a.Header["X-Charge"] != "0.01" {
		t.Fatalf("call answer %d %v %s", a.Status, a.Header, a.Body)
	}
	got := f.voice.requests()[0]
	if got.get("X-Call-Hold-ID") != id || got.get("X-Call-Max-Duration") != "60" || len(got.header["x-call-hold-id"]) != 1 {
		t.Fatalf("the backend got hold %q max %q (%v)", got.get("X-Call-Hold-ID"), got.get("X-Call-Max-Duration"), got.header)
	}
	h, err := f.store.Hold(ctx, id)
	if err != nil || h.Status != balance.HoldOpen || h.Held != testkit.Amt("0.60") {
		t.Fatalf("hold %+v %v", h, err)
	}
	// k has max_concurrent_calls 1
	r := f.do(call{path: callPath(k), as: k})
	if code, d := r.ErrCode(t); r.Status != 429 || code != "CONCURRENCY_LIMITED" || d["auth_id"] != k.ID || d["limit"] != 1.0 ||
		d["active"] != 1.0 || r.Header["Retry-After"] != "" {
		t.Fatalf("second call: %d %v %s", r.Status, r.Header, r.Body)
	}
	if _, _, err := f.store.EndHold(ctx, id, balance.SettleDuration, 20); err != nil {
		t.Fatal(err)
	}
	// 1.00 - 0.01 - 0.20 = 0.79

	// the upstream answers 4xx: the hold is voided, the price stands
	f.voice.status.Store(400)
	r = f.do(call{path: callPath(k), as: k})
	if r.Status != 400 || r.Header["X-Charge"] != "0.01" {
		t.Fatalf("4xx: %d %v", r.Status, r.Header)
	}
	if h, _ := f.store.Hold(ctx, r.Header["X-Call-Hold-Id"]); h == nil || h.Status != balance.HoldVoided || h.Charged != 0 {
		t.Fatalf("hold after a 4xx: %+v", h)
	}
	// the upstream fails: voided, price refunded
	f.voice.status.Store(503)
	r = f.do(call{path: callPath(k), as: k})
	if r.Status != 503 || r.Header["X-Charge"] != "0.00" {
		t.Fatalf("5xx: %d %v", r.Status, r.Header)
	}
	if h, _ := f.store.Hold(ctx, r.Header["X-Call-Hold-Id"]); h == nil || h.Status != balance.HoldVoided {
		t.Fatalf("hold after a 5xx: %+v", h)
	}
	if b := f.bal(m); b != testkit.Amt("0.78") {
		t.Fatalf("balance %v, want 0.78", b)
	}
	x, _ := f.store.AccountIn(ctx, m.Root, m.ID)
	if x.Held != 0 || x.ActiveCalls != 0 {
		t.Fatalf("held %v active %d after every call ended", x.Held, x.ActiveCalls)
	}
	// too little for min_duration: 402, required = price + cost of 10 s
	f.voice.status.Store(200)
	p := f.mk(nil, "0.05")
	r = f.do(call{path: callPath(p), as: p})
	if code, d := r.ErrCode(t); r.Status != 402 || code != "INSUFFICIENT_BALANCE" || d["required"] != "0.11" || d["available"] != "0.05" {
		t.Fatalf("unaffordable call: %d %s", r.Status, r.Body)
	}
	// a plain route carries no call headers
	s := f.do(call{path: smsPath(k), as: k})
	if s.Status != 200 || s.Header["X-Call-Hold-Id"] != "" {
		t.Fatalf("sms: %d %v", s.Status, s.Header)
	}
}
