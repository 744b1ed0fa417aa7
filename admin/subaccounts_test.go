package admin

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
)

var (
	timeRE  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	tokenRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
)

func TestAccountObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0].open(t), nil)
	m := e.main("")
	r := e.must(201, testkit.Request{Method: "POST", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &testkit.Cred{ID: m.id, Token: m.tok},
		Body: `{"name":"Support <Team>"}`})
	if !strings.Contains(string(r.Body), `"name":"Support <Team>"`) {
		t.Fatalf("HTML escaped in output: %s", r.Body)
	}
	c := toAccount(t, r)
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	want := []string{"auth_id", "auth_token", "name", "description", "email", "parent_auth_id", "root_auth_id", "depth",
		"status", "enabled", "is_active", "permissions", "rate_limit", "kyc_mode", "business_type", "kyc_status",
		"kyc_calls_blocked", "use_parent_balance", "balance", "credit_limit", "currency", "subaccount_count",
		"max_subaccounts", "max_concurrent_calls", "calls_per_second", "active_calls", "created_at", "updated_at", "last_used", "resource_uri"}
	if !slices.Equal(keys, want) {
		t.Fatalf("fields\n got %v\nwant %v", keys, want)
	}
	o := c.obj
	checks := map[string]any{
		"description": nil, "email": nil, "parent_auth_id": m.id, "root_auth_id": m.id, "depth": 1.0,
		"status": "active", "enabled": true, "is_active": true, "rate_limit": 1000.0, "kyc_mode": "personal_use",
		"business_type": nil, "kyc_status": "not_required", "kyc_calls_blocked": false, "use_parent_balance": true,
		"balance": nil, "credit_limit": "0.00", "currency": "USD", "subaccount_count": 0.0, "max_subaccounts": 1000.0,
		"last_used": nil, "resource_uri": "/v1/Account/" + m.id + "/Subaccount/" + c.id + "/",
	}
	for k, v := range checks {
		if o[k] != v {
			t.Errorf("%s = %#v, want %#v", k, o[k], v)
		}
	}
	if p := o["permissions"].(map[string]any); p["calls"] != true || p["sms"] != true || p["cdr"] != true || p["subaccounts"] != false {
		t.Errorf("permissions = %v", p)
	}
	if !timeRE.MatchString(o["created_at"].(string)) || !timeRE.MatchString(o["updated_at"].(string)) {
		t.Errorf("times %v %v", o["created_at"], o["updated_at"])
	}
	if !strings.HasPrefix(c.id, "SA_") || len(c.id) != 23 || !tokenRE.MatchString(c.tok) {
		t.Errorf("id %q token %q", c.id, c.tok)
	}
	// main's object: own balance, no parent.
	mo := e.op("GET", "/admin/v1/Account/"+m.id+"/", "").JSON(t)
	if mo["parent_auth_id"] != nil || mo["balance"] != "0.00" || mo["use_parent_balance"] != false || mo["subaccount_count"] != 1.0 ||
		mo["auth_token"] != "<redacted>" || mo["resource_uri"] != "/v1/Account/"+m.id+"/" {
		t.Errorf("main object %v", mo)
	}
	// last_used is set once credentials were accepted.
	self := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/", Cred: &testkit.Cred{ID: c.id, Token: c.tok}}).JSON(t)
	if lu, _ := self["last_used"].(string); !timeRE.MatchString(lu) {
		t.Errorf("last_used = %v", self["last_used"])
	}
}

func TestTokenVisibleOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		if !tokenRE.MatchString(m.tok) {
			t.Fatalf("main token %q", m.tok)
		}
		for _, basic := range []bool{false, true} {
			c := e.childBy(m.cred().As(basic), m.id, "")
			if !tokenRE.MatchString(c.tok) {
				t.Fatalf("child token %q", c.tok)
			}
			for _, path := range []string{
				"/v1/Account/" + c.id + "/",
				"/v1/Account/" + m.id + "/Subaccount/" + c.id + "/",
			} {
				r := e.must(200, testkit.Request{Method: "GET", Path: path, Cred: &testkit.Cred{ID: m.id, Token: m.tok, Basic: basic}})
				if strings.Contains(string(r.Body), c.tok) || r.JSON(t)["auth_token"] != "<redacted>" {
					t.Fatalf("%s shows the token: %s", path, r.Body)
				}
			}
			l := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &testkit.Cred{ID: m.id, Token: m.tok}})
			if strings.Contains(string(l.Body), c.tok) || strings.Contains(string(l.Body), m.tok) {
				t.Fatal("list shows a token")
			}
			u := e.must(200, testkit.Request{Method: "PATCH", Path: "/v1/Account/" + m.id + "/Subaccount/" + c.id + "/", Cred: &testkit.Cred{ID: m.id, Token: m.tok}, Body: `{"name":"x"}`})
			if strings.Contains(string(u.Body), c.tok) {
				t.Fatal("update shows the token")
			}
			// The token works.
			e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + c.id + "/", Cred: &testkit.Cred{ID: c.id, Token: c.tok, Basic: basic}})
		}
	})
}

func TestPaging(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		const n = 23
		var created []string
		for i := range n {
			name := "odd"
			if i%2 == 0 {
				name = "even"
			}
			created = append(created, e.child(m, `{"name":"`+name+`"}`).id)
		}
		slices.Reverse(created) // newest first
		for _, basic := range []bool{false, true} {
			cr := m.cred().As(basic)
			for _, limit := range []int{1, 5, 7, 20, 23, 100} {
				var got []string
				path := fmt.Sprintf("/v1/Account/%s/Subaccount/?limit=%d", m.id, limit)
				pages := 0
				var prevCreated string
				for path != "" {
					r := e.must(200, testkit.Request{Method: "GET", Path: path, Cred: &cr}).JSON(t)
					meta := r["meta"].(map[string]any)
					if meta["total_count"] != float64(n) || meta["limit"] != float64(limit) {
						t.Fatalf("meta %v", meta)
					}
					if pages > 0 && meta["previous"] == nil {
						t.Fatalf("page %d without previous", pages)
					}
					for _, o := range r["objects"].([]any) {
						obj := o.(map[string]any)
						got = append(got, obj["auth_id"].(string))
						if c := obj["created_at"].(string); prevCreated != "" && c > prevCreated {
							t.Fatalf("not newest first: %s after %s", c, prevCreated)
						} else {
							prevCreated = c
						}
					}
					path, _ = meta["next"].(string)
					pages++
				}
				if !slices.Equal(got, created) {
					t.Fatalf("limit %d: paging gave %d ids (gaps or duplicates)\n got %v\nwant %v", limit, len(got), got, created)
				}
				if want := (n + limit - 1) / limit; pages != want {
					t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
				}
			}
		}
		// Default limit 20; filters; bad parameters.
		cr := m.cred()
		r := e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/", Cred: &cr}).JSON(t)
		if meta := r["meta"].(map[string]any); meta["limit"] != 20.0 || len(r["objects"].([]any)) != 20 || meta["next"] != "/v1/Account/"+m.id+"/Subaccount/?limit=20&offset=20" || meta["previous"] != nil {
			t.Fatalf("default page meta %v", meta)
		}
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/?name=even&limit=5&offset=5", Cred: &cr}).JSON(t)
		if meta := r["meta"].(map[string]any); meta["total_count"] != 12.0 || meta["next"] != "/v1/Account/"+m.id+"/Subaccount/?limit=5&name=even&offset=10" ||
			meta["previous"] != "/v1/Account/"+m.id+"/Subaccount/?limit=5&name=even&offset=0" {
			t.Fatalf("filtered meta %v", meta)
		}
		for _, o := range r["objects"].([]any) {
			if o.(map[string]any)["name"] != "even" {
				t.Fatal("name filter")
			}
		}
		e.must(200, testkit.Request{Method: "PATCH", Path: "/v1/Account/" + m.id + "/Subaccount/" + created[3] + "/", Cred: &cr, Body: `{"status":"suspended"}`})
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/?status=suspended", Cred: &cr}).JSON(t)
		if objs := r["objects"].([]any); len(objs) != 1 || objs[0].(map[string]any)["auth_id"] != created[3] {
			t.Fatalf("status filter: %v", objs)
		}
		r = e.must(200, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/?offset=500", Cred: &cr}).JSON(t)
		if objs := r["objects"].([]any); len(objs) != 0 {
			t.Fatal("offset past the end")
		}
		for q, field := range map[string]string{"limit=0": "limit", "limit=101": "limit", "limit=abc": "limit", "offset=-1": "offset", "status=gone": "status"} {
			r := e.must(400, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/Subaccount/?" + q, Cred: &cr, Invalid: true})
			if _, d := r.ErrCode(t); d["field"] != field {
				t.Fatalf("%s: details %v", q, d)
			}
		}
		// Operator list of mains pages the same way.
		for range 3 {
			e.main("")
		}
		r = e.must(200, testkit.Request{Method: "GET", Path: "/admin/v1/Account/?limit=2", Bearer: testOperatorToken}).JSON(t)
		if meta := r["meta"].(map[string]any); meta["total_count"] != 4.0 || meta["next"] != "/admin/v1/Account/?limit=2&offset=2" {
			t.Fatalf("mains meta %v", meta)
		}
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, st *balance.Store) {
		e := newEnv(t, st, nil)
		m := e.main("")
		for _, basic := range []bool{false, true} {
			e.clock.reset()
			mc := m.cred().As(basic)
			c := e.child(m, "")
			tokPath := "/v1/Account/" + m.id + "/Subaccount/" + c.id + "/Token/"
			self := "/v1/Account/" + c.id + "/"
			old := testkit.Cred{ID: c.id, Token: c.tok, Basic: basic}

			// grace 1s: both tokens work until it ends (judged on the injected clock).
			r := e.must(201, testkit.Request{Method: "POST", Path: tokPath, Cred: &mc, Body: `{"grace_seconds":1}`}).JSON(t)
			nw := testkit.Cred{ID: c.id, Token: r["auth_token"].(string), Basic: basic}
			exp, err := time.Parse(time.RFC3339Nano, r["previous_token_expires_at"].(string))
			if r["auth_id"] != c.id || !tokenRE.MatchString(nw.Token) || nw.Token == old.Token || err != nil {
				t.Fatalf("rotate answer %v (%v)", r, err)
			}
			if d := time.Until(exp); d < 0 || d > 2*time.Second {
				t.Fatalf("previous token expires in %v", d)
			}
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &old})
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &nw})
			if !e.wasInvalidated(c.id) {
				t.Fatal("rotation did not invalidate")
			}
			e.clock.advance(2 * time.Second)
			e.must(401, testkit.Request{Method: "GET", Path: self, Cred: &old})
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &nw})

			// grace 0 (as a string, form-encoded): the old token stops at once.
			r = e.must(201, testkit.Request{Method: "POST", Path: tokPath, Cred: &mc, ContentType: "application/x-www-form-urlencoded", Body: "grace_seconds=0"}).JSON(t)
			if r["previous_token_expires_at"] != nil {
				t.Fatalf("grace 0 answer %v", r)
			}
			e.must(401, testkit.Request{Method: "GET", Path: self, Cred: &nw})
			newest := testkit.Cred{ID: c.id, Token: r["auth_token"].(string), Basic: basic}
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &newest})

			// Default grace: token_grace (24h); a third rotation drops the oldest token.
			r = e.must(201, testkit.Request{Method: "POST", Path: tokPath, Cred: &mc}).JSON(t)
			exp, _ = time.Parse(time.RFC3339Nano, r["previous_token_expires_at"].(string))
			if d := time.Until(exp); d < 23*time.Hour || d > 25*time.Hour {
				t.Fatalf("default grace gives %v", d)
			}
			third := testkit.Cred{ID: c.id, Token: r["auth_token"].(string), Basic: basic}
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &newest})
			e.must(201, testkit.Request{Method: "POST", Path: tokPath, Cred: &mc})
			e.must(401, testkit.Request{Method: "GET", Path: self, Cred: &newest}) // at most two live tokens
			e.must(200, testkit.Request{Method: "GET", Path: self, Cred: &third})

			// Bad bodies.
			for body, field := range map[string]string{`{"grace_seconds":-1}`: "grace_seconds", `{"grace_seconds":"x"}`: "grace_seconds", `{"grace":1}`: "grace"} {
				r := e.must(400, testkit.Request{Method: "POST", Path: tokPath, Cred: &mc, Body: body, Invalid: true})
				if _, d := r.ErrCode(t); d["field"] != field {
					t.Fatalf("%s: %v", body, d)
				}
			}
			// A child cannot rotate its own token through its parent's path.
			e.must(403, testkit.Request{Method: "POST", Path: tokPath, Cred: &third})
		}
		// The operator rotates a main account's token.
		r := e.op("POST", "/admin/v1/Account/"+m.id+"/Token/", `{"grace_seconds":0}`)
		if r.Status != 201 {
			t.Fatalf("operator rotate: %d %s", r.Status, r.Body)
		}
		e.must(401, testkit.Request{Method: "GET", Path: "/v1/Account/" + m.id + "/", Cred: &testkit.Cred{ID: m.id, Token: m.tok}})
	})
}
