package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
)

// The console's browser tests of open calls, the subaccount controls and the keyboard (see
// console_test.go for how they run).

// signIn signs the browser in as c from the sign-in form and waits for the account's cards.
func signIn(b *browser, c testkit.Cred) {
	b.t.Helper()
	b.typeIn("#in-id", c.ID)
	b.typeIn("#in-token", c.Token+"\r")
	b.wait(`!document.getElementById("app").hidden && document.querySelectorAll("#balance dd").length > 0 && document.querySelectorAll("#account dd").length > 0`)
}

// fact is the value the card's list (dl) css selects gives for label ("" when it has none).
func fact(b *browser, css, label string) string {
	b.t.Helper()
	return b.js(`(() => { for (const dt of document.querySelectorAll(` + quote(css+" dt") + `)) if (dt.textContent === ` + quote(label) +
		`) return dt.nextElementSibling.innerText; return "" })()`)
}

// moneyIs checks the Balance card's values, by label.
func moneyIs(t *testing.T, b *browser, want map[string]string) {
	t.Helper()
	for label, v := range want {
		if got := fact(b, "#balance", label); got != v {
			t.Fatalf("Balance card: %s is %q, want %q", label, got, v)
		}
	}
}

// listIDs are the auth_ids of a list answer's objects, in order.
func listIDs(t *testing.T, a testkit.Answer) []string {
	t.Helper()
	if a.Status != 200 {
		t.Fatalf("list: %d %s", a.Status, a.Body)
	}
	var ids []string
	for _, o := range a.JSON(t)["objects"].([]any) {
		ids = append(ids, o.(map[string]any)["auth_id"].(string))
	}
	return ids
}

// treeIDs are the auth_ids of the subaccount tree's top rows, in order.
func treeIDs(b *browser) []string {
	b.t.Helper()
	s := b.js(`[...document.querySelectorAll("#tree > li[data-id]")].map((l) => l.dataset.id).join(" ")`)
	return strings.Fields(s)
}

// TestConsoleOpenCalls: with the default routes (placing a call is a call route, API.md §7,
// §8), a subaccount places a call through the proxy; the voice backend answers but does not
// end the call (the sandbox is not told where to settle it), so its hold stays open. The main
// account's console shows the hold in Open calls (hold id, account, held amount) and the
// money held in Balance, both as the API says; once the test settles the hold, the card is
// empty and nothing is held. A 404 from the holds endpoint shows the API's error like any
// other failure.
func TestConsoleOpenCalls(t *testing.T) {
	sb, err := gateway.StartSandboxCalls(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Stop)
	routes := config.DefaultRoutes()
	s := startStackWith(t, routeSpecs(routes), map[string]gateway.Upstream{"voice": {URL: sb.VoiceURL}, "sms": {URL: sb.SMSURL}},
		stackOptions{calls: callSpecs(routes)})
	ma := testkit.NewMain(t, s.ops, s.opToken, "Acme Telecom", "10.00")
	if r := testkit.Do(t, s.ops, testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + ma.ID + "/Number/", Bearer: s.opToken,
		Body: `{"number":"+14155550100"}`}); r.Status != 201 {
		t.Fatalf("add a number: %d %s", r.Status, r.Body)
	}
	r := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Subaccount/", Cred: &ma,
		ContentType: "application/json", Body: `{"name":"Support Team"}`})
	if r.Status != 201 {
		t.Fatalf("create a subaccount: %d %s", r.Status, r.Body)
	}
	sa := testkit.Cred{ID: r.JSON(t)["auth_id"].(string), Token: r.JSON(t)["auth_token"].(string)}
	if r := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Number/%2B14155550100/", Cred: &ma,
		ContentType: "application/json", Body: `{"auth_id":"` + sa.ID + `"}`}); r.Status != 200 {
		t.Fatalf("move the number: %d %s", r.Status, r.Body)
	}
	b := newBrowser(t, s.pub.Addr)

	step(t, "no open calls", func(t *testing.T) {
		b.t = t
		signIn(b, ma)
		b.wait(`document.getElementById("calls").innerText.includes("No open calls.")`)
		moneyIs(t, b, map[string]string{"Balance": "10.00 USD", "Held by open calls": "0.00 USD", "Available": "10.00 USD"})
		b.shot()
	})

	var hold string
	step(t, "a subaccount's call is open", func(t *testing.T) {
		b.t = t
		c := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + sa.ID + "/Call/", Cred: &sa,
			ContentType: "application/json", Body: `{"from":"+14155550100","to":"+14155550111","answer_url":"https://example.com/a"}`})
		if hold = c.Header["X-Call-Hold-Id"]; c.Status != 201 || hold == "" {
			t.Fatalf("call: %d %v %s", c.Status, c.Header, c.Body)
		}
		// What the API says: one open hold of the subaccount, 0.12 held of the main account's money.
		open := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + ma.ID + "/Hold/?status=open", Cred: &ma}).JSON(t)
		objs := open["objects"].([]any)
		if len(objs) != 1 {
			t.Fatalf("open holds: %v", open)
		}
		h := objs[0].(map[string]any)
		bal := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + ma.ID + "/Balance/", Cred: &ma}).JSON(t)
		if h["hold_id"] != hold || h["auth_id"] != sa.ID || h["held"] != "0.12" || bal["held"] != "0.12" || bal["available"] != "9.87" {
			t.Fatalf("hold %v, balance %v", h, bal)
		}
		b.click("#calls-reload")
		b.wait(`document.querySelector('#calls tr[data-id="` + hold + `"]') && document.getElementById("balance").innerText.includes("0.12 USD")`)
		row := b.text(`#calls tr[data-id="` + hold + `"]`)
		for _, want := range []string{hold, sa.ID, "600", "0.12 USD"} {
			if !strings.Contains(row, want) {
				t.Fatalf("the open call's row %q lacks %q", row, want)
			}
		}
		moneyIs(t, b, map[string]string{"Balance": "9.99 USD", "Held by open calls": "0.12 USD", "Available": "9.87 USD"})
		if got := b.text("#account"); !strings.Contains(got, "1 open") {
			t.Fatalf("account card: %q", got)
		}
		b.shot()
	})

	step(t, "a 404 shows the API's message", func(t *testing.T) {
		b.t = t
		// A real 404 body of the API (an unknown resource under the account), given to the
		// page's next read of the open calls.
		nf := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + ma.ID + "/Nothing/", Cred: &ma})
		if nf.Status != 404 || nf.Err.Error.Message == "" {
			t.Fatalf("the API answered %d %s", nf.Status, nf.Body)
		}
		stop := b.answer("*/v1/Account/"+ma.ID+"/Hold/*", 404, nf.Body)
		b.click("#calls-reload")
		b.wait(`!document.getElementById("error").hidden`)
		stop()
		got := b.text("#error")
		if !strings.Contains(got, nf.Err.Error.Code) || !strings.Contains(got, "Open calls: "+nf.Err.Error.Message) {
			t.Fatalf("the page shows %q, the API said %s: %s", got, nf.Err.Error.Code, nf.Err.Error.Message)
		}
		if body := b.js(`document.body.innerText`); strings.Contains(body, "not available") {
			t.Fatalf("the page still says a feature is not available: %q", body)
		}
		b.shot()
	})

	step(t, "the call ends", func(t *testing.T) {
		b.t = t
		if r := testkit.Do(t, s.ops, testkit.Request{Method: "POST", Path: "/admin/v1/Hold/" + hold + "/Settle/", Bearer: s.opToken,
			ContentType: "application/json", Body: `{"duration":30}`}); r.Status != 200 || r.JSON(t)["status"] != "settled" {
			t.Fatalf("settle: %d %s", r.Status, r.Body)
		}
		b.click("#error .dismiss")
		b.click("#calls-reload")
		b.wait(`document.getElementById("calls").innerText.includes("No open calls.") && document.getElementById("balance").innerText.includes("9.978 USD")`)
		moneyIs(t, b, map[string]string{"Balance": "9.978 USD", "Held by open calls": "0.00 USD", "Available": "9.978 USD"})
		b.shot()
	})
	b.t = t
	b.clean()
}

// TestConsoleSubaccountControls: a main account with twelve subaccounts (two pages of ten)
// pages through its tree and filters it by status and by name, edits a subaccount's limits,
// permissions and KYC mode, rotates its token twice (with a grace period, then revoking the
// old token at once), reactivates a suspended subaccount, closes one and deletes one with its
// subaccount (refused without cascade); the API confirms each change.
func TestConsoleSubaccountControls(t *testing.T) {
	s := startSandboxStack(t, stackOptions{})
	ma := testkit.NewMain(t, s.ops, s.opToken, "Acme Telecom", "100.00")
	subs := map[string]testkit.Cred{} // by name
	for i := 1; i <= 12; i++ {
		name := fmt.Sprintf("Customer %02d", i)
		body := `{"name":"` + name + `"}`
		if i == 1 {
			body = `{"name":"` + name + `","permissions":{"subaccounts":true}}`
		}
		r := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + ma.ID + "/Subaccount/", Cred: &ma,
			ContentType: "application/json", Body: body})
		if r.Status != 201 {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
		m := r.JSON(t)
		subs[name] = testkit.Cred{ID: m["auth_id"].(string), Token: m["auth_token"].(string)}
		time.Sleep(2 * time.Millisecond) // newest first: distinct creation times
	}
	c01, c03, c07, c08 := subs["Customer 01"], subs["Customer 03"], subs["Customer 07"], subs["Customer 08"]
	r := testkit.Do(t, s.pub, testkit.Request{Method: "POST", Path: "/v1/Account/" + c01.ID + "/Subaccount/", Cred: &c01,
		ContentType: "application/json", Body: `{"name":"Customer 01 branch"}`})
	if r.Status != 201 {
		t.Fatalf("create a grandchild: %d %s", r.Status, r.Body)
	}
	grandchild := r.JSON(t)["auth_id"].(string)
	if r := testkit.Do(t, s.pub, testkit.Request{Method: "PATCH", Path: "/v1/Account/" + ma.ID + "/Subaccount/" + c03.ID + "/", Cred: &ma,
		ContentType: "application/json", Body: `{"status":"suspended"}`}); r.Status != 200 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	list := func(q string) []string {
		return listIDs(t, testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + ma.ID + "/Subaccount/" + q, Cred: &ma}))
	}
	sub := func(id string) map[string]any {
		r := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + ma.ID + "/Subaccount/" + id + "/", Cred: &ma})
		if r.Status != 200 {
			t.Fatalf("read %s: %d %s", id, r.Status, r.Body)
		}
		return r.JSON(t)
	}
	b := newBrowser(t, s.pub.Addr)
	pager := func(want string) {
		b.t.Helper()
		b.wait(`document.getElementById("subs-pager").innerText.includes(` + quote(want) + `)`)
	}

	step(t, "page through the tree", func(t *testing.T) {
		b.t = t
		signIn(b, ma)
		pager("1–10 of 12")
		if got, want := treeIDs(b), list("?limit=10&offset=0"); !slices.Equal(got, want) {
			t.Fatalf("first page %v, the API's %v", got, want)
		}
		b.shotAs(strings.ReplaceAll(t.Name(), "/", "-") + "-1")
		b.click("#subs-pager button:last-of-type") // Next
		pager("11–12 of 12")
		if got, want := treeIDs(b), list("?limit=10&offset=10"); !slices.Equal(got, want) || len(got) != 2 {
			t.Fatalf("second page %v, the API's %v", got, want)
		}
		if b.js(`String(document.querySelector("#subs-pager button:last-of-type").disabled)`) != "true" {
			t.Fatal("Next is enabled on the last page")
		}
		b.shotAs(strings.ReplaceAll(t.Name(), "/", "-") + "-2")
		b.click("#subs-pager button:first-of-type") // Previous
		pager("1–10 of 12")
	})

	step(t, "filter by status", func(t *testing.T) {
		b.t = t
		b.fill("#f-status", "suspended")
		b.click("#subs-filter button[type=submit]")
		b.wait(`document.querySelectorAll("#tree > li[data-id]").length === 1`)
		pager("1–1 of 1")
		if got := treeIDs(b); !slices.Equal(got, []string{c03.ID}) || !slices.Equal(got, list("?status=suspended")) {
			t.Fatalf("suspended: the tree shows %v, the API %v", got, list("?status=suspended"))
		}
		b.shot()
	})

	step(t, "filter by name", func(t *testing.T) {
		b.t = t
		b.fill("#f-status", "")
		b.fill("#f-name", "Customer 07")
		b.click("#subs-filter button[type=submit]")
		b.wait(`document.querySelector('#tree > li[data-id="` + c07.ID + `"]')`)
		pager("1–1 of 1")
		if got := treeIDs(b); !slices.Equal(got, []string{c07.ID}) || !slices.Equal(got, list("?name=Customer%2007")) {
			t.Fatalf("by name: the tree shows %v", got)
		}
		b.shot()
	})

	step(t, "edit limits, permissions and KYC", func(t *testing.T) {
		b.t = t
		b.click(`#tree li[data-id="` + c07.ID + `"] .manage`)
		b.wait(`!document.getElementById("detail").hidden && document.getElementById("detail-facts").innerText.includes(` + quote(c07.ID) + `)`)
		b.fill("#l-rate", "50")
		b.fill("#l-cps", "3")
		b.fill("#l-conc", "2")
		b.check("#p-sms", false)
		b.check("#p-subaccounts", true)
		b.fill("#l-kyc", "customer_use")
		b.fill("#l-email", "ops@customer07.example")
		b.click("#limits-form button[type=submit]")
		b.wait(`document.getElementById("notice").innerText.includes("Saved the changes to Customer 07") && document.getElementById("detail-facts").innerText.includes("3 per second")`)
		a := sub(c07.ID)
		p := a["permissions"].(map[string]any)
		if a["rate_limit"] != 50.0 || a["calls_per_second"] != 3.0 || a["max_concurrent_calls"] != 2.0 ||
			p["sms"] != false || p["subaccounts"] != true || p["calls"] != true || p["cdr"] != true ||
			a["kyc_mode"] != "customer_use" || a["kyc_status"] != "pending" || a["kyc_calls_blocked"] != true || a["email"] != "ops@customer07.example" {
			t.Fatalf("the API says %v", a)
		}
		facts := b.text("#detail-facts")
		for _, want := range []string{"50 requests/s", "at most 3 per second, at most 2 at once", "calls, cdr, subaccounts", "customer use, pending (calls blocked)"} {
			if !strings.Contains(facts, want) {
				t.Fatalf("the subaccount's facts %q lack %q", facts, want)
			}
		}
		b.shot()
	})

	step(t, "rotate the token", func(t *testing.T) {
		b.t = t
		works := func(tok string) int {
			c := testkit.Cred{ID: c07.ID, Token: tok}
			return testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + c07.ID + "/", Cred: &c}).Status
		}
		// With a grace period: the new token works, and so does the old one until then.
		b.fill("#r-grace", "3600")
		b.click("#rotate-form button[type=submit]")
		b.wait(`!document.getElementById("token-box").hidden && document.getElementById("token-label").innerText.includes("works until")`)
		first := b.text("#token-value")
		if !tokenRE.MatchString(first) || first == c07.Token {
			t.Fatalf("new token %q", first)
		}
		if n, o := works(first), works(c07.Token); n != 200 || o != 200 {
			t.Fatalf("with a grace period: the new token answers %d, the old one %d", n, o)
		}
		b.shotAs(strings.ReplaceAll(t.Name(), "/", "-") + "-grace")
		b.click("#token-hide")
		if b.text("#token-value") != "" || !strings.Contains(b.js(`String(document.getElementById("token-box").hidden)`), "true") {
			t.Fatal("the token is still shown after it was put away")
		}
		// Revoking at once: only the newest token works.
		b.fill("#r-grace", "0")
		b.click("#rotate-form button[type=submit]")
		b.wait(`!document.getElementById("token-box").hidden && document.getElementById("token-label").innerText.includes("no longer works")`)
		second := b.text("#token-value")
		if !tokenRE.MatchString(second) || second == first {
			t.Fatalf("second new token %q", second)
		}
		if n, p, o := works(second), works(first), works(c07.Token); n != 200 || p != 401 || o != 401 {
			t.Fatalf("grace 0: the newest token answers %d, the one before %d, the first %d", n, p, o)
		}
		b.shotAs(strings.ReplaceAll(t.Name(), "/", "-") + "-revoked")
		b.click("#token-hide")
	})

	step(t, "reactivate", func(t *testing.T) {
		b.t = t
		b.fill("#f-name", "")
		b.click("#subs-filter button[type=submit]")
		pager("1–10 of 12")
		b.click(`#tree li[data-id="` + c03.ID + `"] .manage`)
		b.wait(`!document.getElementById("d-reactivate").hidden && document.getElementById("d-suspend").hidden`)
		b.click("#d-reactivate")
		b.wait(`document.querySelector("#detail-facts .badge.active") && document.querySelector('#tree li[data-id="` + c03.ID + `"] .badge.active')`)
		if a := sub(c03.ID); a["status"] != "active" || a["is_active"] != true {
			t.Fatalf("the API says %v", a)
		}
		b.shot()
	})

	step(t, "close", func(t *testing.T) {
		b.t = t
		b.click(`#tree li[data-id="` + c08.ID + `"] .manage`)
		b.wait(`document.getElementById("detail-h").innerText.includes("Customer 08")`)
		b.check("#x-sure", true)
		b.click("#x-close")
		b.wait(`document.querySelector("#detail-facts .badge.closed") && document.querySelector('#tree li[data-id="` + c08.ID + `"] .badge.closed')`)
		if a := sub(c08.ID); a["status"] != "closed" {
			t.Fatalf("the API says %v", a)
		}
		if got := list("?status=closed"); !slices.Equal(got, []string{c08.ID}) {
			t.Fatalf("closed subaccounts: %v", got)
		}
		// A closed account is final: its forms are gone but Delete.
		if b.js(`String(document.getElementById("limits-form").hidden && document.getElementById("x-close").hidden && !document.getElementById("x-delete").hidden)`) != "true" ||
			b.text("#x-h") != "Delete" {
			t.Fatal("a closed subaccount still offers its forms")
		}
		b.shot()
	})

	step(t, "delete", func(t *testing.T) {
		b.t = t
		b.click("#subs-pager button:last-of-type") // Customer 01 is on the second page
		pager("11–12 of 12")
		b.click(`#tree li[data-id="` + c01.ID + `"] .manage`)
		b.wait(`document.getElementById("detail-h").innerText.includes("Customer 01")`)
		// Without cascade the API refuses: it has a subaccount.
		b.check("#x-sure", true)
		b.click("#x-delete")
		b.wait(`!document.getElementById("error").hidden`)
		if got := b.text("#error"); !strings.Contains(got, "CONFLICT") || !strings.Contains(got, "has_subaccounts") {
			t.Fatalf("the page shows %q", got)
		}
		sub(c01.ID) // still there
		b.shotAs(strings.ReplaceAll(t.Name(), "/", "-") + "-refused")
		b.check("#x-cascade", true)
		b.check("#x-sure", true)
		b.click("#x-delete")
		b.wait(`document.getElementById("notice").innerText.includes("Customer 01 was deleted") && document.getElementById("detail").hidden`)
		pager("of 11")
		if got := list("?limit=100"); len(got) != 11 || slices.Contains(got, c01.ID) {
			t.Fatalf("after the delete the API lists %v", got)
		}
		for _, id := range []string{c01.ID, grandchild} {
			if r := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + id + "/", Cred: &ma}); r.Status != 403 {
				t.Fatalf("deleted %s: %d %s", id, r.Status, r.Body)
			}
		}
		if slices.Contains(treeIDs(b), c01.ID) {
			t.Fatal("the tree still shows the deleted subaccount")
		}
		b.shot()
	})
	b.t = t
	b.clean()
}

// TestConsoleKeyboard: the main flows work from the keyboard alone (Tab to a control, type,
// Enter): signing in, creating a subaccount, opening it and moving money to it; a refused
// transfer's message can be dismissed. Every input, select, textarea, button and summary of
// the signed-in page, with a subaccount open and the error bar, the token box and pagers
// shown, has an accessible name and stays in the Tab order.
func TestConsoleKeyboard(t *testing.T) {
	s := startSandboxStack(t, stackOptions{})
	ma := testkit.NewMain(t, s.ops, s.opToken, "Acme Telecom", "100.00")
	b := newBrowser(t, s.pub.Addr)
	focused := func(id string) {
		b.t.Helper()
		if got := b.js(`document.activeElement.id`); got != id {
			b.fail("the focus is on #" + got + ", want #" + id)
		}
	}

	step(t, "sign in with the keyboard", func(t *testing.T) {
		b.t = t
		focused("in-id") // the page starts there
		b.keys(ma.ID)
		b.keys("\t")
		focused("in-token")
		b.keys(ma.Token)
		b.keys("\r")
		b.wait(`!document.getElementById("app").hidden && document.getElementById("balance").innerText.includes("100.00 USD")`)
		b.shot()
	})

	var sa string
	step(t, "create a subaccount with the keyboard", func(t *testing.T) {
		b.t = t
		b.tabTo("#create-box summary")
		b.keys("\r") // opens the form
		b.wait(`document.getElementById("create-box").open`)
		b.tabTo("#c-name")
		b.keys("Support Team")
		b.tabTo("#c-own")
		b.keys(" ") // ticks the box
		b.keys("\r")
		b.wait(`!document.getElementById("token-box").hidden && document.querySelector("#tree li[data-id]")`)
		focused("token-copy") // the new token's box has the focus
		sa = b.js(`document.querySelector("#tree li[data-id]").dataset.id`)
		if r := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + sa + "/", Cred: &ma}); r.JSON(t)["use_parent_balance"] != false {
			t.Fatalf("the API says %s", r.Body)
		}
		b.shot()
	})

	step(t, "move money with the keyboard", func(t *testing.T) {
		b.t = t
		b.tabTo(`#tree li[data-id="` + sa + `"] .manage`)
		b.keys("\r")
		b.wait(`!document.getElementById("detail").hidden`)
		focused("detail-h") // the opened subaccount's heading
		b.tabTo("#m-amount")
		b.keys("25.00")
		b.keys("\r")
		b.wait(`document.getElementById("balance").innerText.includes("75.00 USD")`)
		if r := testkit.Do(t, s.pub, testkit.Request{Path: "/v1/Account/" + sa + "/Balance/", Cred: &ma}); r.JSON(t)["balance"] != "25.00" {
			t.Fatalf("the API says %s", r.Body)
		}
		// A refused transfer: the error bar's Dismiss is reachable too.
		b.tabTo("#m-amount")
		b.keys("500.00\r")
		b.wait(`!document.getElementById("error").hidden`)
		b.shot()
	})

	step(t, "every control has a name", func(t *testing.T) {
		b.t = t
		b.named(30)
		b.tabTo("#error .dismiss")
		b.keys("\r")
		b.wait(`document.getElementById("error").hidden`)
	})
	b.t = t
	b.clean()
}
