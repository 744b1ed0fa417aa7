package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/gateway"
)

// More of the console's browser tests (see console_test.go for how they run).

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
