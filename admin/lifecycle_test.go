package admin

import (
	"sync"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

func (e *env) conflict(want int, reason string, r testkit.Request) {
	e.t.Helper()
	got := e.must(want, r)
	code, d := got.ErrCode(e.t)
	if reason != "" && (code != "CONFLICT" || d["reason"] != reason) {
		e.t.Fatalf("%s %s: %s %v, want CONFLICT %s", r.Method, r.Path, code, d, reason)
	}
}

func subPath(parent, sub string) string { return "/v1/Account/" + parent + "/Subaccount/" + sub + "/" }

func TestDelete(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		for _, basic := range []bool{false, true} {
			m := e.main("")
			mc := m.cred().As(basic)
			a := e.child(m, `{"name":"A","permissions":{"subaccounts":true},"use_parent_balance":false}`)
			a1 := e.child(a, `{"name":"A1","use_parent_balance":false}`)
			leaf := e.child(m, "")
			// Fund a and a1 so their balances move back on delete.
			e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"2.50"}`})
			e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a1.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"1.25"}`})

			// Without cascade, a child that has children is refused and nothing changes.
			e.conflict(409, "has_subaccounts", testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id), Cred: &mc})
			e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a1.id + "/", Cred: &testkit.Cred{ID: a1.id, Token: a1.tok}})
			// cascade=false is no cascade.
			e.conflict(409, "has_subaccounts", testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id) + "?cascade=false", Cred: &mc})

			// A leaf goes without cascade; afterwards it is unreachable and its credentials fail.
			r := e.must(204, testkit.Request{Method: "DELETE", Path: subPath(m.id, leaf.id), Cred: &mc})
			if len(r.Body) != 0 {
				t.Fatalf("204 with a body: %s", r.Body)
			}
			e.must(401, testkit.Request{Method: "GET", Path: "/v1/Account/" + leaf.id + "/", Cred: &testkit.Cred{ID: leaf.id, Token: leaf.tok, Basic: basic}})
			e.must(403, testkit.Request{Method: "GET", Path: subPath(m.id, leaf.id), Cred: &mc})
			e.must(403, testkit.Request{Method: "DELETE", Path: subPath(m.id, leaf.id), Cred: &mc})

			// With cascade the subtree goes, balances move to the parent's billing account.
			if basic {
				e.must(204, testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id), Cred: &mc, ContentType: "application/x-www-form-urlencoded", Body: "cascade=true"})
			} else {
				e.must(204, testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id) + "?cascade=true", Cred: &mc})
			}
			for _, gone := range []account{a, a1} {
				e.must(401, testkit.Request{Method: "GET", Path: "/v1/Account/" + gone.id + "/", Cred: &testkit.Cred{ID: gone.id, Token: gone.tok, Basic: basic}})
				if !e.wasInvalidated(gone.id) {
					t.Fatalf("%s not invalidated", gone.id)
				}
			}
			b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Balance/", Cred: &mc}).JSON(t)
			if b["balance"] != "3.75" {
				t.Fatalf("main balance after cascade delete: %v", b)
			}
			l := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &mc}).JSON(t)
			if l["meta"].(map[string]any)["total_count"] != 0.0 {
				t.Fatalf("children left: %v", l)
			}
			if mo := e.op("GET", "/admin/v1/Account/"+m.id+"/", "").JSON(t); mo["subaccount_count"] != 0.0 {
				t.Fatalf("subaccount_count %v", mo["subaccount_count"])
			}
		}
		// cascade in a JSON body; a child deletes its own child but never itself or its parent.
		m := e.main("")
		a := e.child(m, `{"name":"A","permissions":{"subaccounts":true}}`)
		a1 := e.child(a, "")
		ac := a.cred()
		e.conflict(409, "max_depth", testkit.Request{Method: "POST", Path: "/v1/Account/" + a1.withParentPerm(e, a).id + "/Subaccount/", Cred: &ac, Body: `{"name":"x"}`})
		e.must(403, testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id), Cred: &ac})
		e.must(204, testkit.Request{Method: "DELETE", Path: subPath(a.id, a1.id), Cred: &ac, Body: `{"cascade":"true"}`})
	})
}

// withParentPerm lets a create subaccounts (set by its parent p) and returns a.
func (a account) withParentPerm(e *env, p account) account {
	e.t.Helper()
	pc := p.cred()
	e.must(200, testkit.Request{Method: "PATCH", Path: subPath(p.id, a.id), Cred: &pc, Body: `{"permissions":{"subaccounts":true}}`})
	return a
}

func TestClosedIsFinal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		for _, basic := range []bool{false, true} {
			m := e.main("")
			mc := m.cred().As(basic)
			a := e.child(m, `{"name":"A","permissions":{"subaccounts":true},"use_parent_balance":false}`)
			a1 := e.child(a, "")
			e.must(201, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"4"}`})

			// Closing with open children is refused.
			e.conflict(409, "has_subaccounts", testkit.Request{Method: "PATCH", Path: subPath(m.id, a.id), Cred: &mc, Body: `{"status":"closed"}`})
			ac := a.cred().As(basic)
			e.must(200, testkit.Request{Method: "PATCH", Path: subPath(a.id, a1.id), Cred: &ac, Body: `{"status":"closed"}`})
			o := e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, a.id), Cred: &mc, Body: `{"status":"closed"}`}).JSON(t)
			if o["status"] != "closed" || o["enabled"] != false || o["is_active"] != false || o["balance"] != "0.00" {
				t.Fatalf("closed object %v", o)
			}
			if !e.wasInvalidated(a.id) {
				t.Fatal("close did not invalidate")
			}
			// Credentials stop at once; the record stays readable by the parent.
			e.must(401, testkit.Request{Method: "GET", Path: "/v1/Account/" + a.id + "/", Cred: &ac})
			e.must(200, testkit.Request{Method: "GET", Path: subPath(m.id, a.id), Cred: &mc})
			// The balance went to the parent.
			if b := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Balance/", Cred: &mc}).JSON(t); b["balance"] != "4.00" {
				t.Fatalf("balance after close %v", b)
			}
			// Every change is refused, reopening included.
			for _, body := range []string{`{"status":"active"}`, `{"enabled":true}`, `{"name":"again"}`, `{}`} {
				e.conflict(409, "account_closed", testkit.Request{Method: "POST", Path: subPath(m.id, a.id), Cred: &mc, Body: body})
			}
			e.conflict(409, "account_closed", testkit.Request{Method: "POST", Path: subPath(m.id, a.id) + "Token/", Cred: &mc})
			e.conflict(409, "account_closed", testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + a.id + "/", Bearer: testOperatorToken, Body: `{"status":"active"}`})
			e.conflict(409, "account_closed", testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a.id + "/Credit/", Bearer: testOperatorToken, Body: `{"amount":"1"}`})
			// Closed children do not count toward subaccount_count; a closed child can be deleted.
			if mo := e.op("GET", "/admin/v1/Account/"+m.id+"/", "").JSON(t); mo["subaccount_count"] != 0.0 {
				t.Fatalf("subaccount_count %v", mo["subaccount_count"])
			}
			e.must(204, testkit.Request{Method: "DELETE", Path: subPath(m.id, a.id), Cred: &mc})
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		for _, basic := range []bool{false, true} {
			m := e.main(`{"name":"M","max_subaccounts":2}`)
			mc := m.cred().As(basic)
			// Depth: main 0, child 1, grandchild 2; a third level is over max_depth 3.
			a := e.childBy(mc, m.id, `{"name":"A","permissions":{"subaccounts":true}}`)
			ac := a.cred().As(basic)
			a1 := e.childBy(ac, a.id, `{"name":"A1","permissions":{"subaccounts":true}}`)
			if a1.obj["depth"] != 2.0 {
				t.Fatalf("depth %v", a1.obj["depth"])
			}
			a1c := a1.cred().As(basic)
			e.conflict(409, "max_depth", testkit.Request{Method: "POST", Path: "/v1/Account/" + a1.id + "/Subaccount/", Cred: &a1c, Body: `{"name":"deep"}`})
			e.conflict(409, "max_depth", testkit.Request{Method: "POST", Path: "/v1/Account/" + a1.id + "/Subaccount/", Cred: &mc, Body: `{"name":"deep"}`})

			// Count: max_subaccounts 2 on the main account.
			e.childBy(mc, m.id, "")
			e.conflict(409, "subaccount_limit", testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &mc, Body: `{"name":"third"}`})
			// Raising the limit (operator only) lets it through.
			e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + m.id + "/", Bearer: testOperatorToken, Body: `{"max_subaccounts":3}`})
			b := e.childBy(mc, m.id, "")

			// permissions.subaccounts off: the child may not create, nor may its parent under it.
			bc := b.cred().As(basic)
			r := e.must(403, testkit.Request{Method: "POST", Path: "/v1/Account/" + b.id + "/Subaccount/", Cred: &bc, Body: `{"name":"x"}`})
			if code, d := r.ErrCode(t); code != "PERMISSION_DENIED" || d["permission"] != "subaccounts" || d["auth_id"] != b.id {
				t.Fatalf("%s %v", code, d)
			}
			e.must(403, testkit.Request{Method: "POST", Path: "/v1/Account/" + b.id + "/Subaccount/", Cred: &mc, Body: `{"name":"x"}`})
			// Off higher up the chain denies it below.
			e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, a.id), Cred: &mc, Body: `{"permissions":{"subaccounts":false}}`})
			r = e.must(403, testkit.Request{Method: "POST", Path: "/v1/Account/" + a1.id + "/Subaccount/", Cred: &a1c, Body: `{"name":"x"}`})
			if _, d := r.ErrCode(t); d["auth_id"] != a.id {
				t.Fatalf("details %v", d)
			}
		}
		// max_depth is configurable.
		e2 := newEnv(t, st, func(o *Options) { o.MaxDepth = 2 })
		m := e2.main("")
		a := e2.child(m, `{"name":"A","permissions":{"subaccounts":true}}`)
		ac := a.cred()
		e2.conflict(409, "max_depth", testkit.Request{Method: "POST", Path: "/v1/Account/" + a.id + "/Subaccount/", Cred: &ac, Body: `{"name":"x"}`})
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		for _, basic := range []bool{false, true} {
			m := e.main("")
			mc := m.cred().As(basic)
			a := e.child(m, `{"name":"A","permissions":{"subaccounts":true}}`)
			a1 := e.child(a, "")
			ac, a1c := a.cred().As(basic), a1.cred().As(basic)

			// Suspend a through enabled=false: a and its subtree are not active.
			o := e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, a.id), Cred: &mc, Body: `{"enabled":false}`}).JSON(t)
			if o["status"] != "suspended" || o["enabled"] != false || o["is_active"] != false {
				t.Fatalf("suspended object %v", o)
			}
			if !e.wasInvalidated(a.id) {
				t.Fatal("suspend did not invalidate")
			}
			g := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a1.id + "/", Cred: &a1c}).JSON(t)
			if g["status"] != "active" || g["is_active"] != false {
				t.Fatalf("child of suspended %v", g)
			}
			// A suspended caller reads but does not write.
			e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a.id + "/", Cred: &ac})
			r := e.must(403, testkit.Request{Method: "PATCH", Path: subPath(a.id, a1.id), Cred: &ac, Body: `{"name":"x"}`})
			if code, d := r.ErrCode(t); code != "ACCOUNT_SUSPENDED" || d["auth_id"] != a.id {
				t.Fatalf("%s %v", code, d)
			}
			// A status change under a suspended ancestor is refused; other changes are not.
			e.conflict(409, "parent_suspended", testkit.Request{Method: "PATCH", Path: subPath(a.id, a1.id), Cred: &mc, Body: `{"status":"suspended"}`})
			e.must(200, testkit.Request{Method: "PATCH", Path: subPath(a.id, a1.id), Cred: &mc, Body: `{"name":"renamed"}`})
			e.conflict(409, "parent_suspended", testkit.Request{Method: "POST", Path: "/v1/Account/" + a.id + "/Subaccount/", Cred: &mc, Body: `{"name":"x"}`})
			// Reactivate.
			e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, a.id), Cred: &mc, Body: `{"status":"active"}`})
			if g := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a1.id + "/", Cred: &a1c}).JSON(t); g["is_active"] != true {
				t.Fatalf("after reactivation %v", g)
			}

			// The operator suspends the main account: everything below is inactive.
			e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + m.id + "/", Bearer: testOperatorToken, Body: `{"status":"suspended"}`})
			if g := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a1.id + "/", Cred: &a1c}).JSON(t); g["is_active"] != false {
				t.Fatalf("below suspended main %v", g)
			}
			r = e.must(403, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &mc, Body: `{"name":"x"}`})
			if code, d := r.ErrCode(t); code != "ACCOUNT_SUSPENDED" || d["auth_id"] != m.id {
				t.Fatalf("%s %v", code, d)
			}
			r = e.must(403, testkit.Request{Method: "POST", Path: "/v1/Account/" + a.id + "/Subaccount/", Cred: &ac, Body: `{"name":"x"}`})
			if _, d := r.ErrCode(t); d["auth_id"] != m.id {
				t.Fatalf("ancestor not named: %v", d)
			}
			e.conflict(409, "parent_suspended", testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + a.id + "/", Bearer: testOperatorToken, Body: `{"status":"suspended"}`})
			e.must(200, testkit.Request{Method: "PATCH", Path: "/admin/v1/Account/" + m.id + "/", Bearer: testOperatorToken, Body: `{"enabled":true}`})
		}
	})
}

func TestKYC(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		for _, basic := range []bool{false, true} {
			m := e.main("")
			mc := m.cred().As(basic)
			create := "/v1/Account/" + m.id + "/Subaccount/"

			r := e.must(400, testkit.Request{Method: "POST", Path: create, Cred: &mc, Body: `{"name":"x","kyc_mode":"customer_use"}`})
			if _, d := r.ErrCode(t); d["field"] != "email" {
				t.Fatalf("details %v", d)
			}
			c := e.childBy(mc, m.id, `{"name":"C","kyc_mode":"customer_use","email":"c@example.com","permissions":{"subaccounts":true}}`)
			if c.obj["kyc_status"] != "pending" || c.obj["kyc_calls_blocked"] != true {
				t.Fatalf("customer_use create %v", c.obj)
			}
			// A personal_use child inherits the block.
			cc := c.cred().As(basic)
			k := e.childBy(cc, c.id, "")
			if k.obj["kyc_mode"] != "personal_use" || k.obj["kyc_status"] != "not_required" || k.obj["kyc_calls_blocked"] != true {
				t.Fatalf("inherited block %v", k.obj)
			}
			// Removing the email of a customer_use account is refused.
			r = e.must(400, testkit.Request{Method: "PATCH", Path: subPath(m.id, c.id), Cred: &mc, Body: `{"email":null}`})
			if _, d := r.ErrCode(t); d["field"] != "email" {
				t.Fatalf("details %v", d)
			}
			// The operator verifies: unblocked, for the child too.
			v := e.must(200, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + c.id + "/Kyc/", Bearer: testOperatorToken, Body: `{"status":"verified"}`}).JSON(t)
			if v["kyc_status"] != "verified" || v["kyc_calls_blocked"] != false {
				t.Fatalf("verified %v", v)
			}
			if o := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + k.id + "/", Cred: &mc}).JSON(t); o["kyc_calls_blocked"] != false {
				t.Fatalf("child after verify %v", o)
			}
			// Failed blocks again; switching to personal_use unblocks and is not_required.
			e.must(200, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + c.id + "/Kyc/", Bearer: testOperatorToken, Body: `{"status":"failed"}`})
			p := e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, c.id), Cred: &mc, Body: `{"kyc_mode":"personal_use"}`}).JSON(t)
			if p["kyc_status"] != "not_required" || p["kyc_calls_blocked"] != false {
				t.Fatalf("personal_use %v", p)
			}
			// KYC status of a personal_use account is not the operator's to set; bad status 400.
			e.must(400, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + c.id + "/Kyc/", Bearer: testOperatorToken, Body: `{"status":"verified"}`})
			// Back to customer_use (with an email given in the same update): pending again.
			p = e.must(200, testkit.Request{Method: "PATCH", Path: subPath(m.id, c.id), Cred: &mc, Body: `{"kyc_mode":"customer_use","email":"new@example.com"}`}).JSON(t)
			if p["kyc_status"] != "pending" || p["kyc_calls_blocked"] != true || p["email"] != "new@example.com" {
				t.Fatalf("customer_use again %v", p)
			}
			for _, body := range []string{`{"status":"approved"}`, `{}`, `{"status":"verified","x":1}`} {
				e.must(400, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + c.id + "/Kyc/", Bearer: testOperatorToken, Body: body, Invalid: true})
			}
			// An account cannot set its own KYC status or mode through the public API.
			e.must(403, testkit.Request{Method: "PATCH", Path: subPath(m.id, c.id), Cred: &cc, Body: `{"kyc_mode":"personal_use"}`})
		}
	})
}

// Concurrent creates at the limit: the store's check is atomic, so exactly max_subaccounts
// succeed and the rest get 409 subaccount_limit.
func TestConcurrentCreateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0].open(t), nil)
	m := e.main(`{"name":"M","max_subaccounts":5}`)
	mc := m.cred()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &mc, Body: `{"name":"c"}`})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 5 || codes[409] != 15 {
		t.Fatalf("answers %v, want 5×201 and 15×409", codes)
	}
	if o := e.op("GET", "/admin/v1/Account/"+m.id+"/", "").JSON(t); o["subaccount_count"] != 5.0 {
		t.Fatalf("subaccount_count %v", o["subaccount_count"])
	}
}
