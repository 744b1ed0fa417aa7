package gateway

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

func TestAdmittedRequest(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "1.00")
	r := f.mk(m, "", testkit.Rate(50))
	c := f.mk(r, "", testkit.Rate(20))

	a := f.do(call{path: callPath(c) + "?x=1&y=%2F", as: r, body: `{"to":"+15550100"}`,
		header: map[string]string{
			"X-Request-ID": "client-id-1", "X-Account-ID": m.ID, "X-Caller-ID": m.ID, "X-Billing-Account-ID": "SA_X",
			"X-Charge": "0", "Connection": "keep-alive, X-Secret", "X-Secret": "s", "X-Custom": "kept",
		}})
	if a.Status != 200 || string(a.Body) != `{"api_id":"x"}` {
		t.Fatalf("answer %d %s", a.Status, a.Body)
	}
	if a.Header["X-Request-Id"] != "client-id-1" || a.Header["X-Charge"] != "0.01" || a.Header["X-Upstream"] != "yes" {
		t.Errorf("answer headers %v", a.Header)
	}
	if a.Header["Ratelimit-Policy"] != `"acct";q=20;w=1` || a.Header["Ratelimit"] != `"acct";r=19;t=1` {
		t.Errorf("RateLimit headers %q %q", a.Header["Ratelimit-Policy"], a.Header["Ratelimit"])
	}
	got := f.voice.requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests", len(got))
	}
	u := got[0]
	if u.method != "POST" || u.uri != callPath(c)+"?x=1&y=%2F" || string(u.body) != `{"to":"+15550100"}` {
		t.Errorf("upstream got %s %s %s", u.method, u.uri, u.body)
	}
	for name, want := range map[string]string{
		"X-Account-ID": c.ID, "X-Caller-ID": r.ID, "X-Billing-Account-ID": m.ID, "X-Charge": "0.01",
		"X-Request-ID": "client-id-1", "X-Custom": "kept", "Host": strings.TrimPrefix(f.voice.url, "http://"),
		"X-Auth-Token": "", "Authorization": "", "X-Secret": "", "X-Auth-ID": "",
	} {
		if v := u.header[strings.ToLower(name)]; (want == "" && len(v) != 0) || (want != "" && (len(v) != 1 || v[0] != want)) {
			t.Errorf("upstream header %s = %q, want %q", name, v, want)
		}
	}
	if f.bal(m) != testkit.Amt("0.99") {
		t.Errorf("balance %v", f.bal(m))
	}
}

// TestBasicAuthAndNoSecretsUpstream: Basic credentials are accepted; when both forms are
// sent, X-Auth-ID/X-Auth-Token win; no credential of either form reaches the upstream. An
// X-Auth-Token next to Basic is half a pair of headers: refused (wire.ReadCredentials, the
// management API's rule too), nothing forwarded or charged.
func TestBasicAuthAndNoSecretsUpstream(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "1.00")
	c := f.mk(m, "")
	a := f.do(call{path: smsPath(c), as: c, basic: true, header: map[string]string{"x-account-id": m.ID}})
	if a.Status != 200 {
		t.Fatalf("basic: %d %s", a.Status, a.Body)
	}
	if a.Header["X-Charge"] != "0.005" {
		t.Errorf("X-Charge %q", a.Header["X-Charge"])
	}
	a = f.do(call{path: smsPath(c), as: c, header: map[string]string{"x-account-id": m.ID, "authorization": basicHeader(m.ID, "zzz")}})
	if a.Status != 200 {
		t.Fatalf("headers and Basic: %d %s", a.Status, a.Body)
	}
	for i, u := range f.sms.requests() {
		if u.get("authorization") != "" || u.get("x-auth-token") != "" || u.get("x-auth-id") != "" ||
			len(u.header["x-account-id"]) != 1 || u.get("x-account-id") != c.ID || u.get("x-caller-id") != c.ID {
			t.Errorf("%d: upstream headers %v", i, u.header)
		}
	}
	a = f.do(call{path: smsPath(c), as: c, basic: true, header: map[string]string{"x-auth-token": "zzz"}})
	if a.Status != 401 || a.Err.Error.Code != "INVALID_CREDENTIALS" || a.Header["X-Charge"] != "0.00" {
		t.Errorf("Basic and X-Auth-Token alone: %d %s, X-Charge %q", a.Status, a.Body, a.Header["X-Charge"])
	}
	if f.sms.count() != 2 || f.bal(m) != testkit.Amt("0.99") {
		t.Errorf("forwarded %d, balance %v", f.sms.count(), f.bal(m))
	}
}

// TestRefusals: every refusal is answered with its code, never reaches the upstream and
// charges nothing.
func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	suspend := func(a *testkit.Account) {
		if err := f.store.UpdateAccount(ctx, a.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
			t.Fatal(err)
		}
	}
	type tree struct{ m, r, c, sib *testkit.Account }
	cases := []struct {
		name     string
		build    func() tree
		req      func(tr tree) call
		status   int
		code     string
		who      func(tr tree) string // details.auth_id
		warm     int                  // admitted requests before the refused one
		warmReq  func(tr tree) call
		upstream *recorder
	}{
		{name: "bad token", req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c, tok: strings.Repeat("a", 40)} },
			status: 401, code: "INVALID_CREDENTIALS"},
		{name: "malformed token", req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c, tok: "short"} },
			status: 401, code: "INVALID_CREDENTIALS"},
		{name: "no credentials", req: func(tr tree) call { return call{path: callPath(tr.c)} },
			status: 401, code: "INVALID_CREDENTIALS"},
		{name: "unknown account", req: func(tr tree) call {
			return call{path: callPath(tr.c), as: &testkit.Account{Account: &model.Account{ID: "SA_NOSUCHACCOUNT000000X"}, Token: tr.c.Token}}
		}, status: 401, code: "INVALID_CREDENTIALS"},
		{name: "foreign account (sibling)", req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.sib} },
			status: 403, code: "FORBIDDEN"},
		{name: "parent of the caller", req: func(tr tree) call { return call{path: callPath(tr.r), as: tr.c} },
			status: 403, code: "FORBIDDEN"},
		{name: "path account does not exist", req: func(tr tree) call {
			return call{path: "/v1/Account/SA_NOSUCHACCOUNT000000Y/Call/", as: tr.m}
		}, status: 403, code: "FORBIDDEN"},
		{name: "suspended self", build: func() tree {
			tr := f3(f, nil, nil, nil)
			suspend(tr.c)
			return tr
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 403, code: "ACCOUNT_SUSPENDED", who: func(tr tree) string { return tr.c.ID }},
		{name: "suspended grandparent", build: func() tree {
			tr := f3(f, nil, nil, nil)
			suspend(tr.m)
			return tr
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 403, code: "ACCOUNT_SUSPENDED", who: func(tr tree) string { return tr.m.ID }},
		{name: "permission off at the parent", build: func() tree {
			return f3(f, nil, []testkit.Option{testkit.Perms(model.Perms{SMS: true, CDR: true})}, nil)
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 403, code: "PERMISSION_DENIED", who: func(tr tree) string { return tr.r.ID }},
		{name: "KYC-gated route while blocked", build: func() tree {
			return f3(f, nil, []testkit.Option{testkit.KYC(model.KYCCustomer, model.KYCPending)}, nil)
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 403, code: "KYC_REQUIRED", who: func(tr tree) string { return tr.r.ID }},
		{name: "rate limited at the child", build: func() tree { return f3(f, nil, nil, []testkit.Option{testkit.Rate(2)}) },
			warm: 2, warmReq: func(tr tree) call { return call{path: smsPath(tr.c), as: tr.c} },
			req:    func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 429, code: "RATE_LIMITED", who: func(tr tree) string { return tr.c.ID }},
		{name: "rate limited at the parent by two children", build: func() tree {
			return f3(f, nil, []testkit.Option{testkit.Rate(4)}, []testkit.Option{testkit.Rate(100)})
		}, warm: 4, warmReq: func() func(tr tree) call {
			n := 0
			return func(tr tree) call {
				n++
				if n%2 == 0 {
					return call{path: smsPath(tr.sib), as: tr.sib}
				}
				return call{path: smsPath(tr.c), as: tr.c}
			}
		}(),
			req:    func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 429, code: "RATE_LIMITED", who: func(tr tree) string { return tr.r.ID }},
		{name: "insufficient shared balance", build: func() tree {
			m := f.mk(nil, "0.009")
			r := f.mk(m, "")
			return tree{m, r, f.mk(r, ""), f.mk(r, "")}
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 402, code: "INSUFFICIENT_BALANCE", who: func(tr tree) string { return tr.m.ID }},
		{name: "insufficient own balance", build: func() tree {
			m := f.mk(nil, "10")
			r := f.mk(m, "0.001", testkit.Own())
			return tree{m, r, f.mk(r, ""), f.mk(r, "")}
		}, req: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 402, code: "INSUFFICIENT_BALANCE", who: func(tr tree) string { return tr.r.ID }},
		{name: "credit_limit floor", build: func() tree {
			m := f.mk(nil, "10")
			r := f.mk(m, "0.005", testkit.Own(), testkit.Credit("0.02"))
			return tree{m, r, f.mk(r, ""), f.mk(r, "")}
		}, warm: 2, warmReq: func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} }, // 0.005 → -0.015
			req:    func(tr tree) call { return call{path: callPath(tr.c), as: tr.c} },
			status: 402, code: "INSUFFICIENT_BALANCE", who: func(tr tree) string { return tr.r.ID }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr tree
			if c.build != nil {
				tr = c.build()
			} else {
				tr = f3(f, nil, nil, nil)
			}
			for i := range c.warm {
				if a := f.do(c.warmReq(tr)); a.Status != 200 {
					t.Fatalf("warm-up %d: %d %s", i, a.Status, a.Body)
				}
			}
			voice, sms := f.voice.count(), f.sms.count()
			balances := map[string]model.Amount{}
			for _, a := range []*testkit.Account{tr.m, tr.r, tr.c, tr.sib} {
				balances[a.ID] = f.bal(a)
			}
			a := f.do(c.req(tr))
			if a.Status != c.status || a.Err.Error.Code != c.code {
				t.Fatalf("answer %d %s, want %d %s", a.Status, a.Body, c.status, c.code)
			}
			if a.Err.RequestID == "" || a.Err.RequestID != a.Header["X-Request-Id"] {
				t.Errorf("request id %q vs header %q", a.Err.RequestID, a.Header["X-Request-Id"])
			}
			if c.who != nil && a.Err.Error.Details["auth_id"] != c.who(tr) {
				t.Errorf("details %v, want auth_id %s", a.Err.Error.Details, c.who(tr))
			}
			if a.Header["X-Charge"] != "0.00" {
				t.Errorf("X-Charge %q on a refusal", a.Header["X-Charge"])
			}
			if c.status == 401 && a.Header["Www-Authenticate"] != `Basic realm="gateway"` {
				t.Errorf("401 without WWW-Authenticate: %v", a.Header)
			}
			if c.status == 429 && a.Header["Retry-After"] == "" {
				t.Errorf("429 without Retry-After")
			}
			if c.code == "PERMISSION_DENIED" && a.Err.Error.Details["permission"] != "calls" {
				t.Errorf("details %v", a.Err.Error.Details)
			}
			if f.voice.count() != voice || f.sms.count() != sms {
				t.Errorf("a refused request reached the upstream")
			}
			for _, x := range []*testkit.Account{tr.m, tr.r, tr.c, tr.sib} {
				if got := f.bal(x); got != balances[x.ID] {
					t.Errorf("balance of %s moved: %v → %v", x.ID, balances[x.ID], got)
				}
			}
		})
	}
	t.Run("ungated route works while KYC blocks", func(t *testing.T) {
		tr := f3(f, nil, []testkit.Option{testkit.KYC(model.KYCCustomer, model.KYCPending)}, nil)
		if a := f.do(call{path: smsPath(tr.c), as: tr.c}); a.Status != 200 {
			t.Fatalf("sms while KYC pending: %d %s", a.Status, a.Body)
		}
		if a := f.do(call{method: "GET", path: callPath(tr.c), as: tr.c}); a.Status != 200 || a.Header["X-Charge"] != "0.00" {
			t.Fatalf("cdr while KYC pending: %d %s %v", a.Status, a.Body, a.Header)
		}
	})
	t.Run("no route", func(t *testing.T) {
		tr := f3(f, nil, nil, nil)
		a := f.do(call{method: "DELETE", path: callPath(tr.c), as: tr.c})
		if a.Status != 404 || a.Err.Error.Code != "ROUTE_NOT_FOUND" || a.Header["X-Request-Id"] == "" {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
	})
}

// f3 builds main → reseller → customer, plus a sibling of the customer; main holds 10.00.
func f3(f *fixture, mo, ro, co []testkit.Option) struct{ m, r, c, sib *testkit.Account } {
	m := f.mk(nil, "10", mo...)
	r := f.mk(m, "", ro...)
	c := f.mk(r, "", co...)
	sib := f.mk(r, "", co...)
	return struct{ m, r, c, sib *testkit.Account }{m, r, c, sib}
}

func TestSuspensionTakesEffectOnNextRequest(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "10")
	c := f.mk(m, "")
	if a := f.do(call{path: smsPath(c), as: c}); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if err := f.store.UpdateAccount(context.Background(), m.Account, balance.Change{Status: model.StatusSuspended}); err != nil {
		t.Fatal(err)
	}
	a := f.do(call{path: smsPath(c), as: c})
	if a.Status != 403 || a.Err.Error.Code != "ACCOUNT_SUSPENDED" || a.Err.Error.Details["auth_id"] != m.ID {
		t.Fatalf("after suspension: %d %s", a.Status, a.Body)
	}
	if f.sms.count() != 1 {
		t.Errorf("upstream got %d", f.sms.count())
	}
}

// TestConcurrentSpend: 200+ clients spend a balance that covers exactly n requests.
func TestConcurrentSpend(t *testing.T) {
	f := newFixture(t, nil)
	const n, clients, each = 60, 220, 2
	m := f.mk(nil, "0.10", testkit.Rate(1000000), testkit.Credit("0.50")) // 0.60 available = 60 × 0.01
	r := f.mk(m, "", testkit.Rate(1000000))
	kids := []*testkit.Account{f.mk(r, "", testkit.Rate(1000000)), f.mk(r, "", testkit.Rate(1000000))}
	var ok, poor atomic.Int32
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := kids[i%2]
			for range each {
				a := f.do(call{path: callPath(k), as: k})
				switch a.Status {
				case 200:
					ok.Add(1)
				case 402:
					poor.Add(1)
				default:
					t.Errorf("status %d %s", a.Status, a.Body)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != n || poor.Load() != clients*each-n {
		t.Errorf("admitted %d (want %d), refused %d", ok.Load(), n, poor.Load())
	}
	if got := f.bal(m); got != testkit.Amt("-0.50") {
		t.Errorf("balance %v, want the floor -0.50", got)
	}
	if f.voice.count() != n {
		t.Errorf("upstream got %d, want %d", f.voice.count(), n)
	}
}

// TestRefundOnUpstreamFailure: 5xx, timeout and refused connections each refund once.
func TestRefundOnUpstreamFailure(t *testing.T) {
	dead, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // nothing listens there any more: connections are refused
	f := newFixture(t, func(o *Options) {
		o.Upstreams["voice"] = Upstream{URL: o.Upstreams["voice"].URL, Timeout: 300 * time.Millisecond, ConnectTimeout: time.Second}
		o.Upstreams["dead"] = Upstream{URL: deadURL, Timeout: time.Second, ConnectTimeout: time.Second}
		o.Routes = append(append([]policyRouteSpec(nil), o.Routes...),
			policyRouteSpec{Name: "dead", Method: "POST", Path: "/v1/Account/{auth_id}/Dead/", Upstream: "dead", Permission: "calls", Price: "0.02"})
	})
	cases := []struct {
		name   string
		setup  func()
		path   func(a *testkit.Account) string
		status int
		code   string
	}{
		{"upstream 5xx", func() { f.voice.status.Store(503); f.voice.delay.Store(0) }, callPath, 503, ""},
		{"upstream 500", func() { f.voice.status.Store(500); f.voice.delay.Store(0) }, callPath, 500, ""},
		{"upstream timeout", func() { f.voice.status.Store(200); f.voice.delay.Store(int64(time.Second)) }, callPath, 504, "UPSTREAM_TIMEOUT"},
		{"connection refused", func() {}, func(a *testkit.Account) string { return "/v1/Account/" + a.ID + "/Dead/" }, 502, "UPSTREAM_UNAVAILABLE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := f.mk(nil, "1.00")
			k := f.mk(m, "")
			c.setup()
			a := f.do(call{path: c.path(k), as: k})
			if a.Status != c.status || (c.code != "" && a.Err.Error.Code != c.code) {
				t.Fatalf("answer %d %s, want %d %s", a.Status, a.Body, c.status, c.code)
			}
			if a.Header["X-Charge"] != "0.00" || a.Header["X-Request-Id"] == "" {
				t.Errorf("headers %v", a.Header)
			}
			if got := f.bal(m); got != testkit.Amt("1.00") {
				t.Errorf("balance %v after refund, want 1.00", got)
			}
			u, _ := f.store.Client().HGetAll(context.Background(), balance.UsageKey(k.Root, k.ID)).Result()
			for field, v := range u {
				if v != "0" {
					t.Errorf("usage %s = %s after refund", field, v)
				}
			}
			// Exactly once: the marker is spent, a second refund does nothing. (Marker
			// hashes are shared by every tree on one server: the one that m paid.)
			keys, _ := f.store.Client().Keys(context.Background(), "rf:*").Result()
			var rids []string
			for _, key := range keys {
				fields, _ := f.store.Client().HGetAll(context.Background(), key).Result()
				for field, v := range fields {
					if strings.HasPrefix(v[1:], "|"+m.ID+"|") {
						rids = append(rids, strings.TrimPrefix(key, "rf:")+field)
					}
				}
			}
			if len(rids) != 1 {
				t.Fatalf("markers paid by %s: %v", m.ID, rids)
			}
			rid := rids[0]
			mk, err := f.store.RefundMarker(context.Background(), m.Root, rid)
			if err != nil || mk.State != 'r' {
				t.Fatalf("marker %+v %v", mk, err)
			}
			req := &balance.AdmitRequest{Keys: balance.AdmitKeys(k.Root, k.ID, k.Chain), RequestID: []byte(rid)}
			if _, again, err := f.store.Refund(context.Background(), req); err != nil || again {
				t.Errorf("second refund: %v %v", again, err)
			}
			if got := f.bal(m); got != testkit.Amt("1.00") {
				t.Errorf("balance %v after a second refund", got)
			}
		})
	}
	f.voice.delay.Store(0)
}

// downStore wraps a store and can pretend it is unreachable.
type downStore struct {
	Store
	down atomic.Bool
}

func (d *downStore) Admit(ctx context.Context, r *balance.AdmitRequest, dec *balance.Decision) error {
	if d.down.Load() {
		return errors.Join(balance.ErrUnavailable, errors.New("test: down"))
	}
	return d.Store.Admit(ctx, r, dec)
}

func (d *downStore) Account(ctx context.Context, id string) (*model.Account, error) {
	if d.down.Load() {
		return nil, balance.ErrUnavailable
	}
	return d.Store.Account(ctx, id)
}

func (d *downStore) Ping(ctx context.Context) error {
	if d.down.Load() {
		return balance.ErrUnavailable
	}
	return d.Store.Ping(ctx)
}

func TestStoreDown(t *testing.T) {
	ds := &downStore{}
	f := newFixture(t, func(o *Options) { o.Store = ds })
	ds.Store = f.store
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	other := f.mk(m, "")
	if a := f.do(call{path: smsPath(k), as: k}); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	ds.down.Store(true)
	if f.gw.Ready(context.Background()) == nil {
		t.Error("Ready while the store is down")
	}
	for _, who := range []*testkit.Account{k, other} { // cached and not cached
		start := time.Now()
		a := f.do(call{path: smsPath(who), as: who})
		if a.Status != 503 || a.Err.Error.Code != "STORE_UNAVAILABLE" {
			t.Fatalf("store down: %d %s", a.Status, a.Body)
		}
		if time.Since(start) > time.Second {
			t.Errorf("store down took %v", time.Since(start))
		}
	}
	if f.sms.count() != 1 {
		t.Errorf("forwarded while the store was down")
	}
	ds.down.Store(false)
	if err := f.gw.Ready(context.Background()); err != nil {
		t.Error(err)
	}
	if a := f.do(call{path: smsPath(other), as: other}); a.Status != 200 {
		t.Fatalf("store back: %d %s", a.Status, a.Body)
	}

	// A real redis that cannot be reached answers 503 fast too.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s, err := balance.Open(context.Background(), balance.Options{Redis: "redis://" + addr + "/0", DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := New(Options{Store: s, Routes: testRoutes, Upstreams: map[string]Upstream{"voice": {URL: f.voice.url}, "sms": {URL: f.sms.url}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod("POST")
	rc.Request.SetRequestURI(smsPath(k))
	rc.Request.Header.Set("X-Auth-ID", k.ID)
	rc.Request.Header.Set("X-Auth-Token", k.Token)
	g.ServeFastHTTP(&rc)
	if rc.Response.StatusCode() != 503 {
		t.Errorf("unreachable redis: %d %s", rc.Response.StatusCode(), rc.Response.Body())
	}
}

func TestAuthFailureLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AuthFailuresPerMinute = 3 })
	m := f.mk(nil, "1.00")
	for i := range 3 {
		if a := f.do(call{path: smsPath(m), as: m, tok: strings.Repeat("b", 40)}); a.Status != 401 {
			t.Fatalf("failure %d: %d", i, a.Status)
		}
	}
	a := f.do(call{path: smsPath(m), as: m, tok: strings.Repeat("b", 40)})
	if a.Status != 429 || a.Err.Error.Code != "TOO_MANY_AUTH_FAILURES" || a.Header["Retry-After"] == "" {
		t.Fatalf("4th failure: %d %s %v", a.Status, a.Body, a.Header)
	}
	// Even the right token is refused while the address is blocked.
	if a := f.do(call{path: smsPath(m), as: m}); a.Status != 429 {
		t.Fatalf("blocked address with the right token: %d", a.Status)
	}
	if f.sms.count() != 0 || f.bal(m) != testkit.Amt("1.00") {
		t.Error("a blocked request went through")
	}
}

func TestFallback(t *testing.T) {
	var hits atomic.Int32
	f := newFixture(t, func(o *Options) {
		o.Fallback = func(rc *fasthttp.RequestCtx) { hits.Add(1); rc.SetStatusCode(299) }
	})
	m := f.mk(nil, "1")
	// The stand-in fallback answers what the API never would: not checked against its document.
	a := testkit.Do(t, f.hc, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.ID + "/", Cred: new(m.Cred()), Unchecked: true})
	if a.Status != 299 || hits.Load() != 1 {
		t.Fatalf("fallback: %d", a.Status)
	}
}

func TestRotationAndInvalidate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	m := f.mk(nil, "1")
	k := f.mk(m, "")
	if a := f.do(call{path: smsPath(k), as: k}); a.Status != 200 {
		t.Fatal(a.Status)
	}
	f.gw.cache.c.Wait()
	// Rotated elsewhere without an invalidation: the stale cache still verifies the old
	// token, but the admit script refuses it.
	newTok := strings.Repeat("N", 40)
	if _, err := f.store.RotateToken(ctx, k.Account, hashHex(newTok), 0); err != nil {
		t.Fatal(err)
	}
	if a := f.do(call{path: smsPath(k), as: k}); a.Status != 401 {
		t.Fatalf("revoked token with a stale cache: %d %s", a.Status, a.Body)
	}
	if a := f.do(call{path: smsPath(k), as: k, tok: newTok}); a.Status != 200 {
		t.Fatalf("new token: %d %s", a.Status, a.Body)
	}
	// Invalidate after a rotation on this instance: the next request reads it again.
	newer := strings.Repeat("M", 40)
	if _, err := f.store.RotateToken(ctx, k.Account, hashHex(newer), 0); err != nil {
		t.Fatal(err)
	}
	f.gw.Invalidate(k.ID)
	if a := f.do(call{path: smsPath(k), as: k, tok: newer}); a.Status != 200 {
		t.Fatalf("after Invalidate: %d %s", a.Status, a.Body)
	}
	if f.bal(m) != testkit.Amt("0.985") {
		t.Errorf("balance %v", f.bal(m))
	}
}

// TestGracefulShutdown: a request in flight when Shutdown starts finishes, refund included.
func TestGracefulShutdown(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "1")
	gate := make(chan struct{})
	f.voice.mu.Lock()
	f.voice.gate = gate
	f.voice.mu.Unlock()
	f.voice.status.Store(502)
	done := make(chan testkit.Answer)
	go func() { done <- f.do(call{path: callPath(m), as: m}) }()
	for f.voice.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- f.gw.Shutdown(ctx)
	}()
	close(gate)
	a := <-done
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if a.Status != 502 || a.Header["X-Charge"] != "0.00" || f.bal(m) != testkit.Amt("1") {
		t.Errorf("in-flight request: %d %v, balance %v", a.Status, a.Header, f.bal(m))
	}
}

func TestPayloadTooLarge(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	m := f.mk(nil, "1")
	a := f.do(call{path: smsPath(m), as: m, body: strings.Repeat("x", 4096), invalid: true})
	if a.Status != 413 || a.Err.Error.Code != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if f.sms.count() != 0 || f.bal(m) != testkit.Amt("1") {
		t.Error("a too large request went through")
	}
}
