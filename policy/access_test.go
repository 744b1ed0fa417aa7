package policy

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/tenantgw/gateway/policy/model"
)

func TestReaches(t *testing.T) {
	const m, r, c, sib = "MA_1", "SA_R", "SA_C", "SA_S"
	cases := []struct {
		caller, target string
		chain          []string
		want           bool
	}{
		{m, m, nil, true},
		{m, c, []string{r, m}, true},
		{r, c, []string{r, m}, true},
		{c, c, []string{r, m}, true},
		{c, r, []string{m}, false},      // never a parent
		{c, m, nil, false},              // never the root
		{sib, c, []string{r, m}, false}, // never a sibling
	}
	for _, x := range cases {
		if got := Reaches(x.caller, x.target, x.chain); got != x.want {
			t.Errorf("Reaches(%s, %s, %v) = %v", x.caller, x.target, x.chain, got)
		}
	}
}

func TestKYCCallsBlocked(t *testing.T) {
	p := &model.Account{KYCMode: model.KYCCustomer, KYCStatus: model.KYCPending}
	a := &model.Account{KYCMode: model.KYCPersonal}
	if !KYCCallsBlocked(a, []*model.Account{p}) || KYCBlockedSelf(a) {
		t.Error("personal_use inherits the parent's block")
	}
	p.KYCStatus = model.KYCVerified
	if KYCCallsBlocked(a, []*model.Account{p}) {
		t.Error("verified parent blocks")
	}
}

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
		id, tok, _, ok := ParseBasic(c.h, nil)
		if ok != c.ok || string(id) != c.id || string(tok) != c.tok {
			t.Errorf("ParseBasic(%q) = %q %q %v", c.h, id, tok, ok)
		}
	}
}

func TestParseBasicAllocs(t *testing.T) {
	h := basic("SA_ABCDEFGHIJ0123456789:" + NewToken())
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { _, _, buf, _ = ParseBasic(h, buf) }); n != 0 {
		t.Errorf("ParseBasic allocates %v with a big enough buffer", n)
	}
}

func FuzzParseBasic(f *testing.F) {
	f.Add(basic("SA_ABCDEFGHIJ0123456789:tok"))
	f.Add([]byte("Basic Og=="))
	f.Add([]byte("basic    YTpi"))
	f.Add([]byte("Basic"))
	f.Fuzz(func(t *testing.T, h []byte) {
		id, tok, buf, ok := ParseBasic(h, nil)
		if !ok {
			return
		}
		if len(id)+1+len(tok) > len(buf) || bytes.IndexByte(id, ':') >= 0 {
			t.Fatalf("ParseBasic(%q) = %q %q", h, id, tok)
		}
		// Round trip: encoding what was found decodes to the same.
		id2, tok2, _, ok2 := ParseBasic(basic(string(id)+":"+string(tok)), nil)
		if !ok2 || !bytes.Equal(id, id2) || !bytes.Equal(tok, tok2) {
			t.Fatalf("round trip of %q", h)
		}
	})
}
