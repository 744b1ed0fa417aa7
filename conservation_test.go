package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// TestConservation: many concurrent clients move money every way the gateway knows —
// transfers and credit transfers both ways, operator credits and debits, proxied charges,
// refunds (upstream 5xx), settlements (X-Usage-Cost), closures and deletes (plain and
// cascade, their usage folded into the parent's), and calls (API.md §8): holds opened by a
// call route, which a backend settles by duration or by cost, extends, voids, or leaves to
// expire and settles late — across a tree of accounts on real Redis. Afterwards the books
// balance to the micro-unit, twice: while holds are still open (held of every account = the
// sum of its open holds) and once the reaper has ended every one (nothing held, no slot):
// the sum of every own balance plus everything charged (the mains' include_subaccounts
// usage) equals everything credited, what the clients were told they paid (X-Charge) plus
// what their calls' holds charged equals what usage says was charged, no balance is below
// its floor but by the debt a delete moved onto it (the backend here never settles beyond a
// hold, and what open calls hold can be neither spent nor given away, so admission's floor
// stands), and each tree holds exactly the credit the operator gave it.
func TestConservation(t *testing.T) {
	// An upstream that fails one request in five (a refund) and reports a cost below the
	// price for one in three (a settlement; below the price so that no balance may end under
	// its floor and the floor check below stays strict).
	// The voice backend of the call route answers one call in seven with a 503 (the hold is
	// voided, the price refunded) and one in eleven with a 400 (voided, the price stands);
	// it takes every other call, whose hold it resolves later (below).
	var upCalls, dialCalls atomic.Int64
	calls := make(chan string, 1<<14)
	up := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		if string(rc.Path())[len(rc.Path())-6:] == "/Dial/" {
			switch n := dialCalls.Add(1); {
			case n%7 == 0:
				rc.SetStatusCode(503)
			case n%11 == 0:
				rc.SetStatusCode(400)
			default:
				calls <- string(rc.Request.Header.Peek("X-Call-Hold-ID"))
				rc.SetStatusCode(201)
			}
			return
		}
		n := upCalls.Add(1)
		switch {
		case n%5 == 0:
			rc.SetStatusCode(503)
		case n%3 == 0:
			rc.Response.Header.Set("X-Usage-Cost", "0.0037")
			rc.SetStatusCode(201)
		default:
			rc.SetStatusCode(201)
		}
	}}
	upLn, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(upLn) //nolint:errcheck
	defer up.Shutdown()

	// dial: 0.60 a minute, billed 6/6 with a connect fee, grants of 2 s up to 4 s; a hold lives
	// 1 s of ringing + its seconds + 1 s of grace, so the ones left open expire in seconds.
	dial := balance.NewCallSpec(balance.CallSpec{Tariff: model.Tariff{Rate: 600_000, First: 6, Next: 6, ConnectFee: 1_000},
		Grant: 2, Max: 4, Min: 1, RingTimeout: 1, Grace: 1, Commit: true, Upstream: "voice"})
	stk := startStackWith(t,
		[]policy.RouteSpec{
			{Name: "call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", Price: "0.0100"},
			{Name: "dial", Method: "POST", Path: "/v1/Account/{auth_id}/Dial/", Upstream: "voice", Permission: "calls", Price: "0.0010"},
		},
		map[string]gateway.Upstream{"voice": {URL: "http://" + upLn.Addr().String(), Timeout: 5 * time.Second}},
		stackOptions{calls: []*balance.CallSpec{nil, dial}})
	st, gw, pub, op, opToken := stk.store, stk.gw, stk.pub, stk.ops, stk.opToken
	ctx := context.Background()

	do := func(hc *fasthttp.HostClient, method, path, auth, body string) (int, map[string]any, string) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI("http://x" + path)
		req.Header.Set("Authorization", auth)
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
		if err := hc.DoTimeout(req, resp, 10*time.Second); err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil, ""
		}
		var m map[string]any
		_ = json.Unmarshal(resp.Body(), &m)
		return resp.StatusCode(), m, string(resp.Header.Peek("X-Charge"))
	}
	bearer := "Bearer " + opToken
	basic := func(id, tok string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+tok))
	}
	type acct struct {
		id, tok, parent, ptok string
		depth                 int
	}

	// The tree: two mains (credit limit 5.00 from the operator); each has 3 resellers with own
	// balances (credit limit 1.00, moved from the main) that each have 3 customers, half with
	// own balances, half spending their reseller's.
	const treeCredit = 5_000_000
	var accounts []acct
	var mains []acct
	for m := 0; m < 2; m++ {
		s, mo, _ := do(op, "POST", "/admin/v1/Account/", bearer, `{"name":"main","credit_limit":"5.00"}`)
		if s != 201 {
			t.Fatalf("create main: %d %v", s, mo)
		}
		ma := acct{id: mo["auth_id"].(string), tok: mo["auth_token"].(string)}
		mains = append(mains, ma)
		accounts = append(accounts, ma)
		for r := 0; r < 3; r++ {
			s, ro, _ := do(pub, "POST", "/v1/Account/"+ma.id+"/Subaccount/", basic(ma.id, ma.tok),
				`{"name":"reseller","use_parent_balance":false,"permissions":{"subaccounts":true}}`)
			if s != 201 {
				t.Fatalf("create reseller: %d %v", s, ro)
			}
			ra := acct{id: ro["auth_id"].(string), tok: ro["auth_token"].(string), parent: ma.id, ptok: ma.tok, depth: 1}
			if s, tr, _ := do(pub, "POST", "/v1/Account/"+ma.id+"/CreditTransfer/", basic(ma.id, ma.tok),
				`{"to":"`+ra.id+`","amount":"1.00"}`); s != 201 {
				t.Fatalf("credit transfer to reseller: %d %v", s, tr)
			}
			accounts = append(accounts, ra)
			for c := 0; c < 3; c++ {
				body := `{"name":"customer"}`
				if c%2 == 0 {
					body = `{"name":"customer","use_parent_balance":false}`
				}
				s, co, _ := do(pub, "POST", "/v1/Account/"+ra.id+"/Subaccount/", basic(ma.id, ma.tok), body)
				if s != 201 {
					t.Fatalf("create customer: %d %v", s, co)
				}
				accounts = append(accounts, acct{id: co["auth_id"].(string), tok: co["auth_token"].(string), parent: ra.id, ptok: ra.tok, depth: 2})
			}
		}
	}

	var credited, told atomic.Int64 // µ credited by the operator; µ of X-Charge on 2xx
	var creditMoves atomic.Int64    // credit transfers that went through
	parse := func(s string) int64 {
		a, err := model.ParseAmount(s)
		if err != nil {
			t.Errorf("amount %q: %v", s, err)
		}
		return int64(a)
	}
	credit := func(id, amount string) {
		s, m, _ := do(op, "POST", "/admin/v1/Account/"+id+"/Credit/", bearer, `{"amount":"`+amount+`"}`)
		if s == 201 {
			credited.Add(parse(m["amount"].(string)))
		} else if s != 402 && s != 409 && s != 404 {
			t.Errorf("credit %s %s: %d %v", id, amount, s, m)
		}
	}
	for _, m := range mains {
		credit(m.id, "50.00")
	}

	isMain := map[string]bool{mains[0].id: true, mains[1].id: true}
	// The backend: for each call it took, after a moment of "talk", it settles by duration
	// or by cost (never beyond the hold), extends and then settles, voids, or forgets it (the
	// hold expires). Every answer is a hold object in the state the request asked for.
	var backendWG sync.WaitGroup
	var idsMu sync.Mutex
	var ids []string
	for b := 0; b < 4; b++ {
		backendWG.Add(1)
		go func(b int) {
			defer backendWG.Done()
			rng := rand.New(rand.NewPCG(uint64(b), 8))
			for id := range calls {
				idsMu.Lock()
				ids = append(ids, id)
				idsMu.Unlock()
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				hp := "/admin/v1/Hold/" + id + "/"
				s, h, _ := do(op, "GET", hp, bearer, "")
				if s != 200 || h["status"] != "open" {
					t.Errorf("backend: hold %s: %d %v", id, s, h)
					continue
				}
				granted, held := int(h["granted_seconds"].(float64)), parse(h["held"].(string))
				var want, body string
				switch k := rng.IntN(20); {
				case k < 7:
					want, body = "settled", fmt.Sprintf(`{"duration":%d}`, rng.IntN(granted+1))
				case k < 10:
					want, body = "settled", `{"cost":"`+model.Amount(rng.Int64N(held+1)).String()+`"}`
				case k < 12:
					if s, h, _ := do(op, "POST", hp+"Extend/", bearer, `{"answered_seconds":1}`); s != 200 || h["status"] != "open" {
						t.Errorf("backend: extend %s: %d %v", id, s, h)
						continue
					}
					want, body = "settled", fmt.Sprintf(`{"duration":%d}`, 1+rng.IntN(granted))
				case k < 15:
					want, body = "voided", `{}`
				default:
					continue // never heard of again
				}
				what := "Settle/"
				if want == "voided" {
					what = "Void/"
				}
				if s, h, _ := do(op, "POST", hp+what, bearer, body); s != 200 || h["status"] != want {
					t.Errorf("backend: %s %s %s: %d %v", what, id, body, s, h)
				}
			}
		}(b)
	}
	var wg sync.WaitGroup
	var closed sync.Map
	var deletes, deleted atomic.Int32 // delete attempts (at most 4), deletes done
	deadline := time.Now().Add(3 * time.Second)
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 400 && time.Now().Before(deadline); i++ {
				a := accounts[rng.IntN(len(accounts))]
				switch k := rng.IntN(10); {
				case k < 6: // a proxied request or a call (a hold), as the account itself
					path := "/Call/"
					if k < 3 {
						path = "/Dial/"
					}
					s, _, charge := do(pub, "POST", "/v1/Account/"+a.id+path, basic(a.id, a.tok), `{}`)
					if s >= 200 && s < 300 || path == "/Dial/" && s == 400 { // a call's 4xx: the price stands
						told.Add(parse(charge))
					} else if charge != "" && charge != "0.00" {
						t.Errorf("status %d charged %s", s, charge)
					}
				case k < 8 && a.parent != "": // a transfer between a parent and this child, either way
					amt := fmt.Sprintf("%d.%02d", rng.IntN(2), rng.IntN(100))
					if rng.IntN(2) == 0 {
						amt = "-" + amt
					}
					if amt == "0.00" || amt == "-0.00" {
						amt = "0.01"
					}
					// Half of them move credit instead of money.
					what := "/Transfer/"
					if rng.IntN(2) == 0 {
						what = "/CreditTransfer/"
					}
					s, m, _ := do(pub, "POST", "/v1/Account/"+a.parent+what, basic(a.parent, a.ptok),
						`{"to":"`+a.id+`","amount":"`+amt+`"}`)
					if s != 201 && s != 402 && s != 409 && s != 401 && s != 403 && s != 404 {
						t.Errorf("%s: %d %v", what, s, m)
					}
					if s == 201 && what == "/CreditTransfer/" {
						creditMoves.Add(1)
					}
				case k < 9: // an operator credit or debit
					amt := fmt.Sprintf("%d.%06d", rng.IntN(3), rng.IntN(1_000_000))
					if rng.IntN(3) == 0 {
						amt = "-" + amt
					}
					if parse(amt) != 0 {
						credit(a.id, amt)
					}
				default: // close a customer now and then; delete one (a reseller with its customers) now and then
					if a.parent != "" && rng.IntN(8) == 0 {
						if _, done := closed.LoadOrStore(a.id, true); !done {
							s, m, _ := do(pub, "POST", "/v1/Account/"+a.parent+"/Subaccount/"+a.id+"/", basic(a.parent, a.ptok), `{"status":"closed"}`)
							if s != 200 && s != 409 && s != 401 && s != 403 && s != 404 {
								t.Errorf("close: %d %v", s, m)
							}
						}
					} else if a.parent != "" && rng.IntN(30) == 0 && deletes.Add(1) <= 4 {
						q := ""
						if isMain[a.parent] {
							q = "?cascade=true"
						}
						s, m, _ := do(pub, "DELETE", "/v1/Account/"+a.parent+"/Subaccount/"+a.id+"/"+q, basic(a.parent, a.ptok), "")
						switch s {
						case 204:
							deleted.Add(1)
						case 401, 404:
						default:
							t.Errorf("delete: %d %v", s, m)
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	ctxShut, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctxShut); err != nil {
		t.Fatal(err)
	}
	close(calls)
	backendWG.Wait()

	books := func(when string) (held int64) {
		t.Helper()
		open := map[string]int64{} // billing account → what its open holds hold
		var holdCharged int64
		for _, id := range ids {
			h, err := st.Hold(ctx, id)
			if err != nil {
				t.Fatalf("%s: hold %s: %v", when, id, err)
			}
			if h.Status == balance.HoldOpen {
				open[h.BillingID] += int64(h.Held)
				held += int64(h.Held)
			}
			holdCharged += int64(h.Charged)
		}
		var sumOwn, charged int64
		for _, m := range mains {
			ids, err := st.Subtree(ctx, m.id, m.id)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := st.Accounts(ctx, m.id, ids)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range recs {
				if a.Own {
					sumOwn += int64(a.Balance)
				}
				if int64(a.Held) != open[a.ID] {
					t.Errorf("%s: %s holds %v, its open holds %v", when, a.ID, a.Held, model.Amount(open[a.ID]))
				}
				delete(open, a.ID)
			}
			usage, err := st.SubtreeUsage(ctx, m.id, m.id, "", "")
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range usage {
				charged += int64(u.Charged)
			}
		}
		// what is left in open is held by accounts deleted since: their record (and its held)
		// is gone; their holds' charges go to the nearest own balance above (hold.lua)
		if sumOwn+charged != credited.Load() {
			t.Errorf("%s: books do not balance: own %v + charged %v != credited %v", when,
				model.Amount(sumOwn), model.Amount(charged), model.Amount(credited.Load()))
		}
		if charged != told.Load()+holdCharged {
			t.Errorf("%s: usage says %v was charged, clients were told %v and their holds charged %v", when,
				model.Amount(charged), model.Amount(told.Load()), model.Amount(holdCharged))
		}
		return held
	}
	if held := books("with holds open"); held == 0 {
		t.Error("no hold was open when the storm ended: the books were not checked with money held")
	}
	// Every hold left open expires; the reaper ends them (commit: their granted seconds are
	// charged), then the backend settles half of them late, within what they held.
	// (The hold records are what counts: a tenant's list of open holds leaves out a hold as
	// soon as it expires, before a reaper pass has ended it.)
	waitUntil(t, 15*time.Second, "every hold expired and reaped", func() bool {
		if _, err := balance.NewReaper(st).Pass(ctx, true); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if h, err := st.Hold(ctx, id); err != nil || h.Status == balance.HoldOpen {
				return false
			}
		}
		return true
	})
	late := 0
	for i, id := range ids {
		if h, err := st.Hold(ctx, id); err == nil && h.Status == balance.HoldExpired && i%2 == 0 {
			if s, hm, _ := do(op, "POST", "/admin/v1/Hold/"+id+"/Settle/", bearer, `{"duration":1}`); s != 200 || hm["status"] != "settled" {
				t.Errorf("late settle: %d %v", s, hm)
			}
			late++
		}
	}
	if books("every hold ended") != 0 {
		t.Error("money still held")
	}

	// The books.
	var sumOwn, charged int64
	nClosed, nAccounts := 0, 0
	for _, m := range mains {
		ids, err := st.Subtree(ctx, m.id, m.id)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := st.Accounts(ctx, m.id, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(ids) {
			t.Fatalf("tree of %s lists %d accounts and has %d records", m.id, len(ids), len(recs))
		}
		var credit model.Amount
		nAccounts += len(recs)
		for _, a := range recs {
			credit += a.CreditLimit
			if a.CreditLimit < 0 {
				t.Errorf("%s: credit_limit %v below zero", a.ID, a.CreditLimit)
			}
			if a.Own {
				sumOwn += int64(a.Balance)
				// a delete moves a negative balance up too, without a floor check
				var debt model.Amount
				trs, err := st.Ledger(ctx, balance.LedgerQuery{Root: m.id, ID: a.ID})
				if err != nil {
					t.Fatal(err)
				}
				for _, tr := range trs {
					if tr.Kind == balance.KindDelete && tr.To == a.ID && tr.Amount < 0 {
						debt -= tr.Amount
					}
				}
				if a.Balance < -a.CreditLimit-debt {
					t.Errorf("%s: balance %v below its floor -%v (debt taken over %v)", a.ID, a.Balance, a.CreditLimit, debt)
				}
			}
			if a.Status == model.StatusClosed {
				nClosed++
			}
			if a.Status == model.StatusClosed && a.Balance != 0 {
				t.Errorf("closed %s still holds %v", a.ID, a.Balance)
			}
		}
		if credit != treeCredit {
			t.Errorf("tree of %s holds %v of credit; the operator gave it %v", m.id, credit, model.Amount(treeCredit))
		}
		usage, err := st.SubtreeUsage(ctx, m.id, m.id, "", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range usage {
			charged += int64(u.Charged)
		}
	}
	t.Logf("credited %v, own balances %v, charged %v, upstream calls %d, holds %d (%d settled late), closed %d, deleted %d (%d accounts left), credit transfers %d",
		model.Amount(credited.Load()), model.Amount(sumOwn), model.Amount(charged), upCalls.Load(), len(ids), late, nClosed, deleted.Load(), nAccounts, creditMoves.Load())
	if sumOwn+charged != credited.Load() {
		t.Errorf("books do not balance: own %v + charged %v != credited %v (off by %v)",
			model.Amount(sumOwn), model.Amount(charged), model.Amount(credited.Load()),
			model.Amount(sumOwn+charged-credited.Load()))
	}
	if upCalls.Load() < 100 || charged == 0 || nClosed == 0 || deleted.Load() == 0 || creditMoves.Load() == 0 || len(ids) < 50 || late == 0 {
		t.Errorf("too little traffic to mean anything: %d upstream calls, %d closed, %d deleted, %d credit transfers, %d holds, %d settled late",
			upCalls.Load(), nClosed, deleted.Load(), creditMoves.Load(), len(ids), late)
	}
	if nAccounts > 26-int(deleted.Load()) {
		t.Errorf("%d deletes done, %d accounts left of 26", deleted.Load(), nAccounts)
	}
}
