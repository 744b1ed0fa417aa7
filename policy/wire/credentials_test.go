package wire

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

func basic(s string) []byte { return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(s))) }

func TestParseBasic(t *testing.T) {
	cases := []struct {
		h       []byte
		id, tok string
		ok      bool
	}{
		{basic("SA_X:tok"), "SA_X", "tok", true},
		{basic("SA_X:to:k"), "SA_X", "to:k", true},
		{basic(":"), "", "", true},
		{append([]byte("basic  "), basic("a:b")[6:]...), "a", "b", true},
		{basic("nocolon"), "", "", false},
		{[]byte("Bearer abc"), "", "", false},
		{[]byte("Basic !!!"), "", "", false},
		{[]byte("Basic "), "", "", false},
		{[]byte("Basic " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("a"), 300))), "", "", false},
	}
	for _, c := range cases {
		id, tok, _, ok := parseBasic(c.h, nil)
		if ok != c.ok || string(id) != c.id || string(tok) != c.tok {
			t.Errorf("parseBasic(%q) = %q %q %v", c.h, id, tok, ok)
		}
	}
}

func TestParseBasicAllocs(t *testing.T) {
	h := basic("SA_ABCDEFGHIJ0123456789:" + policy.NewToken())
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { _, _, buf, _ = parseBasic(h, buf) }); n != 0 {
		t.Errorf("parseBasic allocates %v with a big enough buffer", n)
	}
}

func FuzzParseBasic(f *testing.F) {
	f.Add(basic("SA_ABCDEFGHIJ0123456789:tok"))
	f.Add([]byte("Basic Og=="))
	f.Add([]byte("basic    YTpi"))
	f.Add([]byte("Basic"))
	f.Fuzz(func(t *testing.T, h []byte) {
		id, tok, buf, ok := parseBasic(h, nil)
		if !ok {
			return
		}
		if len(id)+1+len(tok) > len(buf) || bytes.IndexByte(id, ':') >= 0 {
			t.Fatalf("parseBasic(%q) = %q %q", h, id, tok)
		}
		// Round trip: encoding what was found decodes to the same.
		id2, tok2, _, ok2 := parseBasic(basic(string(id)+":"+string(tok)), nil)
		if !ok2 || !bytes.Equal(id, id2) || !bytes.Equal(tok, tok2) {
			t.Fatalf("round trip of %q", h)
		}
	})
}

// sent is a header of a request; present with an empty value when value is "".
type sent struct{ name, value string }

func headerOf(hs []sent) *fasthttp.RequestHeader {
	var h fasthttp.RequestHeader
	for _, s := range hs {
		h.Add(s.name, s.value)
	}
	return &h
}

// TestReadCredentials: every combination of the X-Auth-ID/X-Auth-Token pair and Basic. The
// pair wins when either header is sent; a half pair is refused, whatever Basic says; an
// empty value is no header. (The same table runs on both listeners in the root package's
// TestOneCredentialRuleOnBothListeners.)
func TestReadCredentials(t *testing.T) {
	const idA, idB = "MA_AAAAAAAAAAAAAAAAAAAA", "SA_BBBBBBBBBBBBBBBBBBBB"
	tokA, tokB := strings.Repeat("a", policy.TokenLen), strings.Repeat("b", policy.TokenLen)
	id := func(v string) sent { return sent{HeaderAuthID, v} }
	tok := func(v string) sent { return sent{HeaderAuthToken, v} }
	authz := func(v string) sent { return sent{HeaderAuthorization, v} }
	basicA := authz(string(basic(idA + ":" + tokA)))
	cases := []struct {
		name    string
		hs      []sent
		id, tok string // "" when refused
	}{
		{"nothing", nil, "", ""},
		{"headers", []sent{id(idA), tok(tokA)}, idA, tokA},
		{"id only", []sent{id(idA)}, "", ""},
		{"token only", []sent{tok(tokA)}, "", ""},
		{"headers, id not shaped like one", []sent{id("MA_X"), tok(tokA)}, "", ""},
		{"headers, token not shaped like one", []sent{id(idA), tok("short")}, "", ""},
		{"empty values", []sent{id(""), tok("")}, "", ""},
		{"Basic", []sent{basicA}, idA, tokA},
		{"Basic, lower-case scheme", []sent{authz("basic " + basicA.value[len("Basic "):])}, idA, tokA},
		{"Basic, token not shaped like one", []sent{authz(string(basic(idA + ":short")))}, "", ""},
		{"Basic + id", []sent{basicA, id(idA)}, "", ""},
		{"Basic + another's id", []sent{basicA, id(idB)}, "", ""},
		{"Basic + token", []sent{basicA, tok(tokA)}, "", ""},
		{"Basic + another's token", []sent{basicA, tok(tokB)}, "", ""},
		{"Basic + both", []sent{basicA, id(idB), tok(tokB)}, idB, tokB},
		{"Basic + empty values", []sent{basicA, id(""), tok("")}, idA, tokA},
		{"Basic + empty id + token", []sent{basicA, id(""), tok(tokA)}, "", ""},
		{"Basic + id + empty token", []sent{basicA, id(idA), tok("")}, "", ""},
		{"malformed Basic", []sent{authz("Basic !!!")}, "", ""},
		{"Basic without a colon", []sent{authz(string(basic(idA + tokA)))}, "", ""},
		{"Basic, nothing after the scheme", []sent{authz("Basic ")}, "", ""},
		{"malformed Basic + both", []sent{authz("Basic !!!"), id(idA), tok(tokA)}, idA, tokA},
		{"Bearer", []sent{authz("Bearer " + tokA)}, "", ""},
	}
	for _, c := range cases {
		gid, gtok, _, ok := ReadCredentials(headerOf(c.hs), nil)
		if ok != (c.id != "") || string(gid) != c.id || string(gtok) != c.tok {
			t.Errorf("%s: %q %q %v, want %q %q", c.name, gid, gtok, ok, c.id, c.tok)
		}
	}
}

// TestReadCredentialsAllocs: the gateway's hot path reads credentials without allocating,
// in either form.
func TestReadCredentialsAllocs(t *testing.T) {
	const id = "SA_ABCDEFGHIJ0123456789"
	tok := policy.NewToken()
	buf := make([]byte, 0, 128)
	for _, hs := range [][]sent{
		{{HeaderAuthID, id}, {HeaderAuthToken, tok}},
		{{HeaderAuthorization, string(basic(id + ":" + tok))}},
	} {
		h := headerOf(hs)
		var ok bool
		if n := testing.AllocsPerRun(100, func() { _, _, buf, ok = ReadCredentials(h, buf) }); n != 0 || !ok {
			t.Errorf("%v: ok %v, %v allocations", hs[0].name, ok, n)
		}
	}
}

func FuzzReadCredentials(f *testing.F) {
	f.Add("SA_ABCDEFGHIJ0123456789", strings.Repeat("a", 40), "")
	f.Add("", "", string(basic("SA_ABCDEFGHIJ0123456789:"+strings.Repeat("a", 40))))
	f.Add("", "tok", "Basic Og==")
	f.Add("MA_X", "", "basic !!")
	f.Fuzz(func(t *testing.T, id, tok, authz string) {
		var h fasthttp.RequestHeader
		if id != "" {
			h.Set(HeaderAuthID, id)
		}
		if tok != "" {
			h.Set(HeaderAuthToken, tok)
		}
		if authz != "" {
			h.Set(HeaderAuthorization, authz)
		}
		gid, gtok, _, ok := ReadCredentials(&h, make([]byte, 0, 128))
		if ok && (len(gid) != policy.IDLen || len(gtok) != policy.TokenLen) {
			t.Fatalf("ReadCredentials(%q, %q, %q) = %q %q", id, tok, authz, gid, gtok)
		}
		if ok && (id != "" || tok != "") && (string(gid) != id || string(gtok) != tok) {
			t.Fatalf("ReadCredentials(%q, %q, %q) = %q %q: the headers were sent, and win", id, tok, authz, gid, gtok)
		}
	})
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		authz string // "" sends none
		tok   string // "" when refused
	}{
		{"", ""},
		{"Bearer op-token", "op-token"},
		{"bearer op-token", "op-token"},
		{"BEARER   op-token  ", "op-token"},
		{"Bearer ", ""},
		{"Bearer    ", ""},
		{"Bearer", ""},
		{"op-token", ""},
		{"Basic b3A6dG9rZW4=", ""},
		{"Bearerop-token", ""},
	}
	for _, c := range cases {
		var h fasthttp.RequestHeader
		if c.authz != "" {
			h.Set(HeaderAuthorization, c.authz)
		}
		tok, ok := BearerToken(&h)
		if ok != (c.tok != "") || string(tok) != c.tok {
			t.Errorf("%q: %q %v, want %q", c.authz, tok, ok, c.tok)
		}
	}
}

// TestTokensVerify: the current token, and the previous one until its grace ends; nothing of
// a closed account or of a hash in another form.
func TestTokensVerify(t *testing.T) {
	cur, prev, other := policy.NewToken(), policy.NewToken(), policy.NewToken()
	hash := func(tok string) policy.TokenHash { return policy.HashToken([]byte(tok)) }
	const exp = 1_000_000
	rec := func(edit func(a *model.Account)) *model.Account {
		a := &model.Account{ID: "MA_AAAAAAAAAAAAAAAAAAAA", Status: model.StatusActive,
			Tok: hash(cur).Hex(), TokPrev: hash(prev).Hex(), TokPrevExp: exp}
		if edit != nil {
			edit(a)
		}
		return a
	}
	cases := []struct {
		name string
		a    *model.Account
		tok  string
		now  int64
		want bool
	}{
		{"current", rec(nil), cur, 0, true},
		{"current after the grace", rec(nil), cur, exp + 1, true},
		{"previous in its grace", rec(nil), prev, exp - 1, true},
		{"previous at the end of its grace", rec(nil), prev, exp, false},
		{"previous without an expiry", rec(func(a *model.Account) { a.TokPrevExp = 0 }), prev, 0, false},
		{"another token", rec(nil), other, 0, false},
		{"closed", rec(func(a *model.Account) { a.Status = model.StatusClosed }), cur, 0, false},
		{"suspended: credentials still work", rec(func(a *model.Account) { a.Status = model.StatusSuspended }), cur, 0, true},
		{"hash in another form", rec(func(a *model.Account) { a.Tok = strings.ToUpper(a.Tok) + "0" }), cur, 0, false},
		{"no token", rec(func(a *model.Account) { a.Tok, a.TokPrev = "", "" }), cur, 0, false},
	}
	for _, c := range cases {
		tk := TokensOf(c.a)
		if got := tk.Verify(hash(c.tok), c.now); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
	var zero Tokens
	if zero.Verify(policy.TokenHash{}, 0) {
		t.Error("the zero Tokens verify the zero hash")
	}
	tk := TokensOf(rec(nil))
	h := hash(cur)
	if n := testing.AllocsPerRun(100, func() { tk.Verify(h, 0) }); n != 0 {
		t.Errorf("Verify allocates %v", n)
	}
}
