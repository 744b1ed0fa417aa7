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
// cascade, their usage folded into the parent's) — across a tree of accounts on real Redis.
// Afterwards the books balance to the micro-unit: the sum of every own balance plus
// everything charged (the mains' include_subaccounts usage) equals everything credited, what
// the clients were told they paid (X-Charge) equals what usage says was charged, no balance
// is below its floor but by the debt a delete moved onto it, and each tree holds exactly the
// credit the operator gave it.
func TestConservation(t *testing.T) {
	// An upstream that fails one request in five (a refund) and reports a cost below the
	// price for one in three (a settlement; below the price so that no balance may end under
	// its floor and the floor check below stays strict).
	var upCalls atomic.Int64
	up := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
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

	stk := startStack(t,
		[]policy.RouteSpec{{Name: "call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", Price: "0.0100"}},
		map[string]gateway.Upstream{"voice": {URL: "http://" + upLn.Addr().String(), Timeout: 5 * time.Second}})
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
				case k < 6: // a proxied call, as the account itself
					s, _, charge := do(pub, "POST", "/v1/Account/"+a.id+"/Call/", basic(a.id, a.tok), `{}`)
					if s >= 200 && s < 300 {
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
	t.Logf("credited %v, own balances %v, charged %v, upstream calls %d, closed %d, deleted %d (%d accounts left), credit transfers %d",
		model.Amount(credited.Load()), model.Amount(sumOwn), model.Amount(charged), upCalls.Load(), nClosed, deleted.Load(), nAccounts, creditMoves.Load())
	if charged != told.Load() {
		t.Errorf("usage says %v was charged, clients were told %v", model.Amount(charged), model.Amount(told.Load()))
	}
	if sumOwn+charged != credited.Load() {
		t.Errorf("books do not balance: own %v + charged %v != credited %v (off by %v)",
			model.Amount(sumOwn), model.Amount(charged), model.Amount(credited.Load()),
			model.Amount(sumOwn+charged-credited.Load()))
	}
	if upCalls.Load() < 100 || charged == 0 || nClosed == 0 || deleted.Load() == 0 || creditMoves.Load() == 0 {
		t.Errorf("too little traffic to mean anything: %d upstream calls, %d closed, %d deleted, %d credit transfers",
			upCalls.Load(), nClosed, deleted.Load(), creditMoves.Load())
	}
	if nAccounts > 26-int(deleted.Load()) {
		t.Errorf("%d deletes done, %d accounts left of 26", deleted.Load(), nAccounts)
	}
}
