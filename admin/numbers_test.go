package admin

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

// numberTrees: two trees, every account owning one number (moved there by its main account,
// half the moves writing the number as %2B).
//
//	A ── A1 ── A1a        B ── B1
//	 └── A2
type numberTrees struct {
	e        *env
	accts    []account
	parent   map[string]string // id → parent id ("" for a main account)
	numberOf map[string]string // id → its number
}

func newNumberTrees(t *testing.T, e *env) *numberTrees {
	nt := &numberTrees{e: e, parent: map[string]string{}, numberOf: map[string]string{}}
	a := e.main(`{"name":"A"}`)
	a1 := e.child(a, `{"name":"A1","permissions":{"subaccounts":true}}`)
	a1a := e.child(a1, `{"name":"A1a"}`)
	a2 := e.child(a, `{"name":"A2"}`)
	b := e.main(`{"name":"B"}`)
	b1 := e.child(b, `{"name":"B1"}`)
	nt.accts = []account{a, a1, a1a, a2, b, b1}
	nt.parent = map[string]string{a.id: "", a1.id: a.id, a1a.id: a1.id, a2.id: a.id, b.id: "", b1.id: b.id}
	for i, x := range nt.accts {
		n := "+1415555" + string(rune('0'+i)) + "100"
		root := x.id
		for nt.parent[root] != "" {
			root = nt.parent[root]
		}
		got := e.op("POST", "/admin/v1/Account/"+root+"/Number/", `{"number":"`+n+`"}`).JSON(t)
		if got["number"] != n || got["auth_id"] != root || got["root_auth_id"] != root || got["created_at"] == "" {
			t.Fatalf("add %s: %v", n, got)
		}
		if x.id != root {
			rc := nt.acct(root).cred()
			path := "/v1/Account/" + root + "/Number/" + pathNumber(n, i%2 == 0) + "/"
			got := e.must(200, testkit.Request{Method: "POST", Path: path, Cred: &rc, Body: `{"auth_id":"` + x.id + `"}`}).JSON(t)
			if got["auth_id"] != x.id || got["root_auth_id"] != root {
				t.Fatalf("move %s to %s: %v", n, x.id, got)
			}
		}
		nt.numberOf[x.id] = n
	}
	return nt
}

func pathNumber(n string, encoded bool) string {
	if encoded {
		return url.PathEscape(n) // %2B
	}
	return n
}

func (nt *numberTrees) acct(id string) account {
	for _, a := range nt.accts {
		if a.id == id {
			return a
		}
	}
	panic(id)
}

// reaches: id is c or below it.
func (nt *numberTrees) reaches(c, id string) bool {
	for ; id != ""; id = nt.parent[id] {
		if id == c {
			return true
		}
	}
	return false
}

func (nt *numberTrees) owners(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, a := range nt.accts {
		n, err := nt.e.st.LookupNumber(t.Context(), nt.numberOf[a.id])
		if err != nil {
			t.Fatal(err)
		}
		out[n.Number] = n.AuthID
	}
	return out
}

// TestNumbersCrossTenantMatrix: every account's credentials against every account's number,
// on every path the credentials name (their own account and every other), the number written
// with + and with %2B: read, move and give back answer 200/204 only when the path account
// is within the caller's reach and the number within the path account's subtree; everything
// else is the same 403 FORBIDDEN that an unknown number gets, and changes nothing. A number
// within reach moved to any account outside the path account's subtree is that 403 too.
// Lists, own and with include_subaccounts, show the path account's and its subtree's only.
func TestNumbersCrossTenantMatrix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		nt := newNumberTrees(t, e)
		owners := nt.owners(t)
		forbidden := func(what string, a testkit.Answer) {
			t.Helper()
			if code, _ := a.ErrCode(t); a.Status != 403 || code != "FORBIDDEN" {
				t.Errorf("%s: %d %s, want 403 FORBIDDEN", what, a.Status, a.Body)
			}
		}
		for _, c := range nt.accts {
			cred := c.cred()
			for _, p := range nt.accts {
				pathOK := nt.reaches(c.id, p.id)
				for _, owner := range append(nt.accts, account{id: "nobody"}) {
					n := nt.numberOf[owner.id]
					if n == "" {
						n = "+14155559999"
					}
					for _, encoded := range []bool{false, true} { // + and %2B
						path := "/v1/Account/" + p.id + "/Number/" + pathNumber(n, encoded) + "/"
						what := c.id + " on " + p.id + " for " + pathNumber(n, encoded)
						ok := pathOK && owner.id != "nobody" && nt.reaches(p.id, owner.id)
						get := e.do(testkit.Request{Method: "GET", Path: path, Cred: &cred})
						if ok {
							if get.Status != 200 || get.JSON(t)["auth_id"] != owner.id {
								t.Errorf("GET %s: %d %s", what, get.Status, get.Body)
							}
							// a reachable number, moved to any account outside the path
							// account's subtree: refused as if that account did not exist
							for _, d := range nt.accts {
								if !nt.reaches(p.id, d.id) {
									forbidden("POST "+what+" to "+d.id, e.do(testkit.Request{Method: "POST", Path: path, Cred: &cred, Body: `{"auth_id":"` + d.id + `"}`}))
								}
							}
							continue
						}
						forbidden("GET "+what, get)
						// A move to the caller itself and a give-back: refused alike.
						forbidden("POST "+what, e.do(testkit.Request{Method: "POST", Path: path, Cred: &cred, Body: `{"auth_id":"` + c.id + `"}`}))
						forbidden("DELETE "+what, e.do(testkit.Request{Method: "DELETE", Path: path, Cred: &cred}))
					}
				}
				// the path account's own list, and the subtree's
				own := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + p.id + "/Number/", Cred: &cred})
				if !pathOK {
					forbidden("own list "+c.id+" on "+p.id, own)
				} else if objs := own.JSON(t)["objects"].([]any); len(objs) != 1 || objs[0].(map[string]any)["number"] != nt.numberOf[p.id] {
					t.Errorf("own list %s on %s: %s", c.id, p.id, own.Body)
				}
				// the list
				list := e.do(testkit.Request{Method: "GET", Path: "/v1/Account/" + p.id + "/Number/?include_subaccounts=true&limit=100", Cred: &cred})
				if !pathOK {
					forbidden("list "+c.id+" on "+p.id, list)
					continue
				}
				var got, want []string
				for _, o := range list.JSON(t)["objects"].([]any) {
					got = append(got, o.(map[string]any)["number"].(string))
				}
				for _, a := range nt.accts {
					if nt.reaches(p.id, a.id) {
						want = append(want, nt.numberOf[a.id])
					}
				}
				sort.Strings(want)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("list %s on %s: %v, want %v", c.id, p.id, got, want)
				}
			}
		}
		if after := nt.owners(t); len(after) != len(owners) {
			t.Fatalf("owners changed: %v → %v", owners, after)
		} else {
			for n, o := range owners {
				if after[n] != o {
					t.Fatalf("%s moved from %s to %s", n, o, after[n])
				}
			}
		}
	})
}

// TestNumberEndpoints: the answers of the number endpoints (API.md §6, §9) that the matrix
// does not cover.
func TestNumberEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		nt := newNumberTrees(t, e)
		a, a1, a1a, a2, b := nt.accts[0], nt.accts[1], nt.accts[2], nt.accts[3], nt.accts[4]
		ca, ca1 := a.cred(), a1.cred()
		conflict := func(what, reason string, r testkit.Answer) {
			t.Helper()
			if code, d := r.ErrCode(t); r.Status != 409 || code != "CONFLICT" || d["reason"] != reason {
				t.Errorf("%s: %d %s, want 409 %s", what, r.Status, r.Body, reason)
			}
		}
		invalid := func(what, field string, r testkit.Answer) {
			t.Helper()
			if code, d := r.ErrCode(t); r.Status != 400 || code != "INVALID_REQUEST" || d["field"] != field {
				t.Errorf("%s: %d %s, want 400 naming %s", what, r.Status, r.Body, field)
			}
		}
		// operator: add (taken anywhere, only to main accounts, E.164), look up, remove
		conflict("add a number of another tree", "number_taken", e.op("POST", "/admin/v1/Account/"+b.id+"/Number/", `{"number":"`+nt.numberOf[a1a.id]+`"}`))
		invalid("add to a subaccount", "auth_id", e.op("POST", "/admin/v1/Account/"+a1.id+"/Number/", `{"number":"+14155550999"}`))
		invalid("add a malformed number", "number", e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a.id + "/Number/", Bearer: testOperatorToken, Body: `{"number":"4155550999"}`, Invalid: true}))
		invalid("add without a number", "number", e.do(testkit.Request{Method: "POST", Path: "/admin/v1/Account/" + a.id + "/Number/", Bearer: testOperatorToken, Body: `{}`, Invalid: true}))
		if got := e.op("GET", "/admin/v1/Number/"+url.PathEscape(nt.numberOf[a1a.id])+"/", "").JSON(t); got["auth_id"] != a1a.id || got["root_auth_id"] != a.id {
			t.Errorf("look-up: %v", got)
		}
		if r := e.op("GET", "/admin/v1/Number/+14155550999/", ""); r.Status != 404 {
			t.Errorf("look-up of nobody's number: %d", r.Status)
		}
		invalid("look-up of a malformed number", "number", e.op("GET", "/admin/v1/Number/abc/", ""))

		// tenant: a main account's number is the operator's to remove
		conflict("give back the main account's number", "main_account_number",
			e.do(testkit.Request{Method: "DELETE", Path: "/v1/Account/" + a.id + "/Number/" + nt.numberOf[a.id] + "/", Cred: &ca}))
		// give back: to the owner's parent, also by the owner's own credentials
		n := nt.numberOf[a1a.id]
		e.must(204, testkit.Request{Method: "DELETE", Path: "/v1/Account/" + a1a.id + "/Number/" + url.PathEscape(n) + "/", Cred: &ca1})
		if got, _ := st.LookupNumber(t.Context(), n); got.AuthID != a1.id {
			t.Errorf("given back to %s, want %s", got.AuthID, a1.id)
		}
		// moves: to an account out of the path account's subtree is 403; a bad auth_id 400
		path := "/v1/Account/" + a1.id + "/Number/" + n + "/"
		if r := e.do(testkit.Request{Method: "POST", Path: path, Cred: &ca1, Body: `{"auth_id":"` + a2.id + `"}`}); r.Status != 403 {
			t.Errorf("move to a sibling: %d %s", r.Status, r.Body)
		}
		invalid("move without auth_id", "auth_id", e.do(testkit.Request{Method: "POST", Path: path, Cred: &ca1, Body: `{}`, Invalid: true}))
		invalid("move to a malformed id", "auth_id", e.do(testkit.Request{Method: "POST", Path: path, Cred: &ca1, Body: `{"auth_id":"x"}`}))
		invalid("move with another field", "to", e.do(testkit.Request{Method: "POST", Path: path, Cred: &ca1, Body: `{"auth_id":"` + a1a.id + `","to":"x"}`, Invalid: true}))
		e.must(200, testkit.Request{Method: "POST", Path: path, Cred: &ca1, ContentType: "application/x-www-form-urlencoded", Body: "auth_id=" + a1a.id})
		// a closed account takes none, and closing gives its numbers to the parent
		e.must(200, testkit.Request{Method: "POST", Path: "/v1/Account/" + a1.id + "/Subaccount/" + a1a.id + "/", Cred: &ca1, Body: `{"status":"closed"}`})
		if got, _ := st.LookupNumber(t.Context(), n); got.AuthID != a1.id {
			t.Errorf("after the close %s is %s's, want %s's", n, got.AuthID, a1.id)
		}
		conflict("move to a closed account", "account_closed",
			e.do(testkit.Request{Method: "POST", Path: path, Cred: &ca1, Body: `{"auth_id":"` + a1a.id + `"}`}))
		// paging
		list := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a.id + "/Number/?include_subaccounts=true&limit=2&offset=1", Cred: &ca}).JSON(t)
		meta := list["meta"].(map[string]any)
		if meta["total_count"] != float64(4) || len(list["objects"].([]any)) != 2 || meta["next"] == nil || meta["previous"] == nil ||
			!strings.Contains(meta["next"].(string), "include_subaccounts=true") {
			t.Errorf("paged list: %v", list)
		}
		own := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + a.id + "/Number/", Cred: &ca}).JSON(t)
		if objs := own["objects"].([]any); len(objs) != 1 || objs[0].(map[string]any)["number"] != nt.numberOf[a.id] {
			t.Errorf("own list: %v", own)
		}
		// remove: gone from the tree and the look-up
		e.must(204, testkit.Request{Method: "DELETE", Path: "/admin/v1/Number/" + url.PathEscape(n) + "/", Bearer: testOperatorToken})
		if r := e.do(testkit.Request{Method: "GET", Path: path, Cred: &ca1}); r.Status != 403 {
			t.Errorf("a removed number: %d", r.Status)
		}
		if r := e.op("DELETE", "/admin/v1/Number/"+url.PathEscape(n)+"/", ""); r.Status != 404 {
			t.Errorf("remove again: %d", r.Status)
		}
	})
}
