package balance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// cfAcct describes one account of a closed-form test tree; parent is an index into the
// tree (-1 for the main account).
type cfAcct struct {
	parent  int
	own     bool
	credit  string // credited when own
	limit   string // credit_limit ("" = 0)
	rate    int
	opts    []testkit.Option
	refused bool // never admitted (suspended, no permission, KYC pending): used sparingly
}

// cfTree is a tree built from a description, twice over: one for each script.
type cfTree struct {
	accts []*testkit.Account
	role  map[string]int // account id -> index
}

func cfBuild(t *testing.T, s *balance.Store, desc []cfAcct) *cfTree {
	tr := &cfTree{role: map[string]int{"": -1}}
	for i, d := range desc {
		opts := append([]testkit.Option{testkit.Rate(d.rate)}, d.opts...)
		if d.own {
			opts = append(opts, testkit.Own())
		}
		if d.limit != "" {
			opts = append(opts, testkit.Credit(d.limit))
		}
		var parent *testkit.Account
		credit := ""
		if d.parent >= 0 {
			parent = tr.accts[d.parent]
		}
		if d.own || d.parent < 0 {
			credit = d.credit
		}
		a := testkit.NewAccount(t, s, parent, credit, opts...)
		tr.accts = append(tr.accts, a)
		tr.role[a.ID] = i
	}
	return tr
}

// cfRandomTree: a main account and five subaccounts (two levels), with rates (some equal,
// so that ties are broken), balances that a few requests exhaust, and a credit limit.
func cfRandomTree(rng *rand.Rand) []cfAcct {
	rates := []int{0, 0, 3, 5, 5, 8, 20}
	pick := func() int { return rates[rng.IntN(len(rates))] }
	credits := []string{"0.05", "0.10", "0.31", "5.00"}
	desc := []cfAcct{
		{parent: -1, own: true, credit: credits[rng.IntN(len(credits))], rate: pick()},
		{parent: 0, rate: pick()}, // spends the main's
		{parent: 0, own: true, credit: "0.04", limit: "0.02", rate: pick()}, // own, with credit
		{parent: 1, rate: pick()}, // grandchild on 1's
		{parent: 2, rate: pick()}, // grandchild on 2's
	}
	switch rng.IntN(3) { // one that the static checks refuse
	case 0:
		desc = append(desc, cfAcct{parent: 1, refused: true, opts: []testkit.Option{func(a *model.Account) { a.Status = model.StatusSuspended }}})
	case 1:
		desc = append(desc, cfAcct{parent: 0, refused: true, opts: []testkit.Option{testkit.Perms(model.Perms{SMS: true})}})
	default:
		desc = append(desc, cfAcct{parent: 2, refused: true, opts: []testkit.Option{testkit.KYC(model.KYCCustomer, model.KYCPending)}})
	}
	return desc
}

// cfStep is one run of identical requests: on path, by the caller up the chain by up, with
// the token of the wrong account when badTok.
type cfStep struct {
	tree, path, up, n int
	price             string
	perm              model.Permission
	kyc, badTok       bool
	pays              bool // AdmitRequest.PathPays: a hint, right or wrong at random
}

func cfRandomSteps(rng *rand.Rand, trees int, desc []cfAcct) []cfStep {
	prices := []string{"0", "0.01", "0.01", "0.02", "0.03"}
	var steps []cfStep
	for range 6 + rng.IntN(6) {
		st := cfStep{tree: rng.IntN(trees), path: rng.IntN(len(desc)), n: 1 + rng.IntN(10),
			price: prices[rng.IntN(len(prices))], perm: model.PermCalls}
		depth := 0
		for p := desc[st.path].parent; p >= 0; p = desc[p].parent {
			depth++
		}
		if rng.IntN(3) == 0 {
			st.up = rng.IntN(depth + 1)
		}
		st.pays = rng.IntN(2) == 0
		switch rng.IntN(12) {
		case 0:
			st.perm = model.PermSMS
		case 1:
			st.kyc = true
		case 2:
			st.badTok = true
		}
		steps = append(steps, st)
	}
	return steps
}

// requests builds the steps' requests on forest f: each run shares its keys, so that the
// batcher sends it as one request and '=' for the rest.
func cfRequests(f []*cfTree, desc []cfAcct, steps []cfStep, idPrefix string, ids *int) []*balance.AdmitRequest {
	var out []*balance.AdmitRequest
	for _, st := range steps {
		tr := f[st.tree]
		caller := st.path
		for range st.up {
			caller = desc[caller].parent
		}
		first := admReq(tr.accts[caller], tr.accts[st.path], st.perm, st.kyc, st.price)
		if st.badTok {
			first.TokenHash = tr.accts[(caller+1)%len(tr.accts)].TokenHash()
		}
		first.PathPays = st.pays
		for range st.n {
			r := *first
			*ids++
			r.RequestID = fmt.Appendf(nil, "%s-%05d", idPrefix, *ids)
			out = append(out, &r)
		}
	}
	return out
}

// cfRound is the runs sent at one clock reading, dt after the scenario's start.
type cfRound struct {
	dt    time.Duration
	steps []cfStep
}

// cfTally counts what the comparisons exercised.
type cfTally struct {
	admitted, runs int
	reasons        map[balance.Reason]int
}

// cfCompare builds two forests of two trees each from desc, then sends every round to the
// reference script one request per call and to the store's script as one batch, at the
// same clock reading, and compares what they decided and wrote. With tomb, about one
// request in four is withdrawn before its round (refunded before its admit, which leaves a
// tombstone): the batch must refuse it (ReasonWithdrawn) and decide the others as the
// reference decides the round without it.
// cfCalls numbers the calls of cfCompare, whose request ids it keeps apart.
var cfCalls atomic.Int64

func cfCompare(t *testing.T, s *balance.Store, ref, label string, desc []cfAcct, rounds []cfRound, tally *cfTally, tomb *rand.Rand) {
	ctx := context.Background()
	forests := [2][]*cfTree{} // [0] for the reference, [1] for the closed form
	for k := range forests {
		for range 2 {
			forests[k] = append(forests[k], cfBuild(t, s, desc))
		}
	}
	start := time.Now()
	ids := 0
	// The same ids in both forests but for a prefix of each call and forest: markers of
	// every tree share hashes on one server, so ids must be unique across trees.
	n := cfCalls.Add(1)
	prefix := [2]string{fmt.Sprintf("cf%da", n), fmt.Sprintf("cf%db", n)}
	for _, rd := range rounds {
		at, dt, steps := start.Add(rd.dt), rd.dt, rd.steps
		base := ids
		reqs := [2][]*balance.AdmitRequest{cfRequests(forests[0], desc, steps, prefix[0], &ids), nil}
		ids = base // the same counters in both forests
		reqs[1] = cfRequests(forests[1], desc, steps, prefix[1], &ids)
		refOf := make([]int, len(reqs[1])) // index in reqs[0] of each request; -1 = withdrawn
		if tomb != nil {
			kept := reqs[0][:0]
			for i, r := range reqs[1] {
				refOf[i] = len(kept)
				if tomb.IntN(4) == 0 {
					if amt, ok, err := s.Refund(ctx, r); err != nil || ok || amt != 0 {
						t.Fatalf("%s: refund of request %d before its admit: %v %v %v", label, i, amt, ok, err)
					}
					refOf[i] = -1
					continue
				}
				kept = append(kept, reqs[0][i])
			}
			reqs[0] = kept
		} else {
			for i := range refOf {
				refOf[i] = i
			}
		}
		decs := [2][]balance.Decision{make([]balance.Decision, len(reqs[0])), make([]balance.Decision, len(reqs[1]))}
		for k, body := range []string{ref, balance.AdmitScriptBody()} {
			for i, err := range balance.AdmitWithClock(t, s, body, at, reqs[k], decs[k], k == 0) {
				if err != nil {
					t.Fatalf("%s, %v: request %d: %v", label, dt, i, err)
				}
			}
		}
		tally.runs += len(steps)
		treeOf := make([]int, 0, len(reqs[0]))
		for _, st := range steps {
			for range st.n {
				treeOf = append(treeOf, st.tree)
			}
		}
		for i := range decs[1] {
			g := decs[1][i]
			if refOf[i] < 0 {
				tally.reasons[g.Reason]++
				mb, eb := s.RefundMarker(ctx, forests[1][treeOf[i]].accts[0].Root, string(reqs[1][i].RequestID))
				if g != (balance.Decision{Reason: balance.ReasonWithdrawn, Price: reqs[1][i].Price}) || eb != nil || mb.State != 'x' {
					t.Errorf("%s, %v: request %d withdrawn: %+v, marker %+v %v", label, dt, i, g, mb, eb)
				}
				continue
			}
			w := decs[0][refOf[i]]
			ra, rb := forests[0][treeOf[i]].role, forests[1][treeOf[i]].role
			if w.Admitted {
				tally.admitted++
			} else {
				tally.reasons[w.Reason]++
			}
			if g.Admitted != w.Admitted || g.Reason != w.Reason || rb[g.AuthID] != ra[w.AuthID] ||
				rb[g.BillingID] != ra[w.BillingID] || g.Charge != w.Charge || g.Limit != w.Limit ||
				g.Remaining != w.Remaining || g.Reset != w.Reset || g.Available != w.Available || g.Price != w.Price {
				t.Errorf("%s, %v: request %d: closed form %+v, reference %+v", label, dt, i, g, w)
			}
			ma, ea := s.RefundMarker(ctx, forests[0][treeOf[i]].accts[0].Root, string(reqs[0][refOf[i]].RequestID))
			mb, eb := s.RefundMarker(ctx, forests[1][treeOf[i]].accts[0].Root, string(reqs[1][i].RequestID))
			if (ea == nil) != (eb == nil) || (ea == nil && (ma.State != mb.State || ma.Price != mb.Price ||
				ra[ma.BillingID] != rb[mb.BillingID] || ma.Day != mb.Day || ma.Route != mb.Route)) {
				t.Errorf("%s, %v: request %d: marker %+v %v, reference %+v %v", label, dt, i, mb, eb, ma, ea)
			}
		}
		for tr := range forests[0] {
			for x := range desc {
				a, b := forests[0][tr].accts[x], forests[1][tr].accts[x]
				sa := s.Client().HMGet(ctx, balance.AccountKey(a.Root, a.ID), "bal", "tat", "last_used").Val()
				sb := s.Client().HMGet(ctx, balance.AccountKey(b.Root, b.ID), "bal", "tat", "last_used").Val()
				if fmt.Sprint(sa) != fmt.Sprint(sb) {
					t.Errorf("%s, %v: account %d of tree %d: bal, tat, last_used %v, reference %v", label, dt, x, tr, sb, sa)
				}
				if ua, ub := admUsage(t, s, a), admUsage(t, s, b); fmt.Sprint(ua) != fmt.Sprint(ub) {
					t.Errorf("%s, %v: account %d of tree %d: usage %v, reference %v", label, dt, x, tr, ub, ua)
				}
			}
		}
	}
}

// TestAdmitClosedFormSameAsSequential: the admit script, which decides a run of identical
// requests in closed form, decides every request exactly as the reference script
// (testdata/admit_sequential.lua, which decides each request on its own) does when it gets
// them one at a time, at the same clock reading: every field of every decision (Reset to
// the millisecond), then balances, rate state, last_used, usage and refund markers. Random
// runs over trees with rates on several levels, balances and a credit limit that run out in
// the middle of a run, free requests and static refusals, at five clock readings (fresh,
// after partial refills, after a full one, and last_used's 1 s boundary); and a fixed case
// of two equal rates in a chain that allow as many requests from different tats (the
// tightest is then the first in the chain).
func TestAdmitClosedFormSameAsSequential(t *testing.T) {
	ref, err := os.ReadFile("testdata/admit_sequential.lua")
	if err != nil {
		t.Fatal(err)
	}
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		tally := &cfTally{reasons: map[balance.Reason]int{}}
		for seed := uint64(1); seed <= 12; seed++ {
			rng := rand.New(rand.NewPCG(seed, 7))
			desc := cfRandomTree(rng)
			// The clock is the script's only reading of time, so any rate is exact.
			var rounds []cfRound
			for _, dt := range []time.Duration{0, 250 * time.Millisecond, time.Second, 1370 * time.Millisecond, 4 * time.Second} {
				rounds = append(rounds, cfRound{dt, cfRandomSteps(rng, 2, desc)})
			}
			cfCompare(t, s, string(ref), fmt.Sprintf("seed %d", seed), desc, rounds, tally, nil)
		}
		// The random sequences must have exercised admits, runs and every refusal.
		if tally.admitted < 200 || tally.runs < 100 || len(tally.reasons) < 6 ||
			tally.reasons[balance.ReasonRateLimited] < 50 || tally.reasons[balance.ReasonInsufficient] < 50 {
			t.Errorf("%d admitted in %d runs, refusals %v: the sequences exercise too little", tally.admitted, tally.runs, tally.reasons)
		}

		// Equal rates, equal room, different tats: m and s1 both 5/s (T = 200 ms), s2 without
		// a rate. s2 at 0 ms moves m's tat to 200 ms; s1 at 100 ms moves s1's to 300 ms and m's
		// to 400 ms. At 250 ms both allow 4 more (floor(950/200), floor(850/200)), and the
		// answers must name s1's reset (250 ms for the first), the first in the chain, not m's.
		tie := []cfAcct{{parent: -1, own: true, credit: "1.00", rate: 5}, {parent: 0, rate: 5}, {parent: 0}}
		one := func(path, n int) []cfStep { return []cfStep{{path: path, n: n, price: "0.01", perm: model.PermCalls}} }
		cfCompare(t, s, string(ref), "tie", tie, []cfRound{
			{0, one(2, 1)}, {100 * time.Millisecond, one(1, 1)}, {250 * time.Millisecond, one(1, 6)}}, tally, nil)
	})
}

// TestAdmitClosedFormWithdrawn: withdrawn requests (refunded before their admit, see
// refund.lua) anywhere in a batch, in the middle of runs of identical requests too, are
// refused and change nothing, and the batch decides every other request exactly as the
// reference script decides the same rounds without them: decisions, balances, rate state,
// last_used, usage and markers.
func TestAdmitClosedFormWithdrawn(t *testing.T) {
	ref, err := os.ReadFile("testdata/admit_sequential.lua")
	if err != nil {
		t.Fatal(err)
	}
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		tally := &cfTally{reasons: map[balance.Reason]int{}}
		for seed := uint64(101); seed <= 106; seed++ {
			rng := rand.New(rand.NewPCG(seed, 7))
			desc := cfRandomTree(rng)
			var rounds []cfRound
			for _, dt := range []time.Duration{0, 250 * time.Millisecond, time.Second, 4 * time.Second} {
				rounds = append(rounds, cfRound{dt, cfRandomSteps(rng, 2, desc)})
			}
			cfCompare(t, s, string(ref), fmt.Sprintf("seed %d", seed), desc, rounds, tally, rng)
		}
		if tally.admitted < 50 || tally.reasons[balance.ReasonWithdrawn] < 30 || tally.reasons[balance.ReasonRateLimited] < 10 ||
			tally.reasons[balance.ReasonInsufficient] < 10 {
			t.Errorf("%d admitted, refusals %v: the sequences exercise too little", tally.admitted, tally.reasons)
		}
	})
}
