package main

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
)

// header is one header line of a raw request; an empty value is sent as an empty value.
type header struct{ name, value string }

// rawRequest is method path with the given header lines and body, as a client sends it.
func rawRequest(method, path string, hs []header, body string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: gw\r\n")
	for _, h := range hs {
		b.WriteString(h.name + ": " + h.value + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// TestOneCredentialRuleOnBothListeners sends every combination of X-Auth-ID, X-Auth-Token and
// HTTP Basic to a proxied route and to the management API of the public listener, once for
// each of two accounts' paths, and requires the same identity (the path it may act on) or
// the same 401 INVALID_CREDENTIALS from both: X-Auth-ID/X-Auth-Token win over Basic when
// either is sent, a half pair is refused (Basic is then not looked at), an empty value is
// no header. The operator listener reads Authorization: Bearer only, by the same reader
// package; its table checks that no other form is taken for the operator token.
func TestOneCredentialRuleOnBothListeners(t *testing.T) {
	stk := startSandboxStack(t, stackOptions{})
	bearer := "Bearer " + stk.opToken
	type account struct{ id, tok string }
	newMain := func(name string) account {
		a := testkit.NewMain(t, stk.ops, stk.opToken, name, "10.00")
		return account{a.ID, a.Token}
	}
	a, b := newMain("A"), newMain("B")
	wrongTok := strings.Repeat("W", policy.TokenLen)
	basicOf := func(id, tok string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+tok))
	}
	id := func(v string) header { return header{"X-Auth-ID", v} }
	tok := func(v string) header { return header{"X-Auth-Token", v} }
	authz := func(v string) header { return header{"Authorization", v} }
	basicA := authz(basicOf(a.id, a.tok))

	// who is the account the credentials identify, "" when they are refused.
	cases := []struct {
		name string
		hs   []header
		who  string
	}{
		{"nothing", nil, ""},
		{"headers", []header{id(a.id), tok(a.tok)}, a.id},
		{"id only", []header{id(a.id)}, ""},
		{"token only", []header{tok(a.tok)}, ""},
		{"headers, another's token", []header{id(a.id), tok(b.tok)}, ""},
		{"headers, wrong token", []header{id(a.id), tok(wrongTok)}, ""},
		{"headers, id not shaped like one", []header{id("MA_X"), tok(a.tok)}, ""},
		{"headers, token not shaped like one", []header{id(a.id), tok("short")}, ""},
		{"empty values", []header{id(""), tok("")}, ""},
		{"Basic", []header{basicA}, a.id},
		{"Basic, lower-case scheme", []header{authz("basic " + basicOf(a.id, a.tok)[len("Basic "):])}, a.id},
		{"Basic, wrong token", []header{authz(basicOf(a.id, wrongTok))}, ""},
		{"Basic, token not shaped like one", []header{authz(basicOf(a.id, "short"))}, ""},
		{"Basic + id", []header{basicA, id(a.id)}, ""},
		{"Basic + another's id", []header{basicA, id(b.id)}, ""},
		{"Basic + token", []header{basicA, tok(a.tok)}, ""},
		{"Basic + another's token", []header{basicA, tok(b.tok)}, ""},
		{"Basic + both", []header{basicA, id(b.id), tok(b.tok)}, b.id},
		{"Basic + both, wrong token", []header{basicA, id(b.id), tok(wrongTok)}, ""},
		{"Basic + empty values", []header{basicA, id(""), tok("")}, a.id},
		{"Basic + empty id + token", []header{basicA, id(""), tok(a.tok)}, ""},
		{"Basic + id + empty token", []header{basicA, id(a.id), tok("")}, ""},
		{"malformed Basic", []header{authz("Basic !!!")}, ""},
		{"Basic without a colon", []header{authz("Basic " + base64.StdEncoding.EncodeToString([]byte(a.id+a.tok)))}, ""},
		{"Basic, nothing after the scheme", []header{authz("Basic ")}, ""},
		{"malformed Basic + both", []header{authz("Basic !!!"), id(a.id), tok(a.tok)}, a.id},
		{"Bearer with an account token", []header{authz("Bearer " + a.tok)}, ""},
		{"Bearer with the operator token", []header{authz(bearer)}, ""},
	}
	for _, c := range cases {
		for _, path := range []string{a.id, b.id} {
			want := 401
			if c.who == path {
				want = 200
			} else if c.who != "" {
				want = 403
			}
			for _, l := range []struct {
				name, method, path, body string
				ok                       int
			}{
				{"proxied route", "POST", "/v1/Account/" + path + "/Call/", `{"to": "+1"}`, 201},
				{"management API", "GET", "/v1/Account/" + path + "/", "", 200},
			} {
				resp := parseAnswer(t, rawExchange(t, stk.pub.Addr, rawRequest(l.method, l.path, c.hs, l.body)))
				got := resp.StatusCode()
				if got == l.ok {
					got = 200
				}
				var body struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				_ = json.Unmarshal(resp.Body(), &body)
				switch {
				case got != want:
					t.Errorf("%s, %s of %s: %d %.120s, want %d", c.name, l.name, path[:6], resp.StatusCode(), resp.Body(), want)
				case want == 401 && (body.Error.Code != "INVALID_CREDENTIALS" ||
					string(resp.Header.Peek("WWW-Authenticate")) != `Basic realm="gateway"`):
					t.Errorf("%s, %s: code %q, WWW-Authenticate %q", c.name, l.name, body.Error.Code, resp.Header.Peek("WWW-Authenticate"))
				case want == 403 && body.Error.Code != "FORBIDDEN":
					t.Errorf("%s, %s: code %q", c.name, l.name, body.Error.Code)
				}
			}
		}
	}

	// The operator listener: Authorization: Bearer <operator token> and nothing else.
	ops := []struct {
		name string
		hs   []header
		ok   bool
	}{
		{"nothing", nil, false},
		{"Bearer", []header{authz(bearer)}, true},
		{"bearer, lower case, spaces around the token", []header{authz("bearer   " + stk.opToken + " ")}, true},
		{"Bearer, wrong token", []header{authz("Bearer " + stk.opToken + "x")}, false},
		{"Bearer, no token", []header{authz("Bearer ")}, false},
		{"the token alone", []header{authz(stk.opToken)}, false},
		{"Basic with the operator token", []header{authz(basicOf(a.id, stk.opToken))}, false},
		{"account headers", []header{id(a.id), tok(a.tok)}, false},
		{"operator token as X-Auth-Token", []header{tok(stk.opToken)}, false},
		{"Bearer + account headers", []header{authz(bearer), id(a.id), tok(a.tok)}, true},
	}
	for _, c := range ops {
		resp := parseAnswer(t, rawExchange(t, stk.ops.Addr, rawRequest("GET", "/admin/v1/Account/", c.hs, "")))
		want := 401
		if c.ok {
			want = 200
		}
		if resp.StatusCode() != want {
			t.Errorf("operator, %s: %d %.120s, want %d", c.name, resp.StatusCode(), resp.Body(), want)
		}
		if want == 401 && string(resp.Header.Peek("WWW-Authenticate")) != `Bearer realm="gateway"` {
			t.Errorf("operator, %s: WWW-Authenticate %q", c.name, resp.Header.Peek("WWW-Authenticate"))
		}
	}
}
