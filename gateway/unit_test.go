package gateway

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
	"github.com/valyala/fasthttp"
)

func TestAuthLimiterBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newAuthLimiter(2, 10, now)
	a := netip.MustParseAddr("192.0.2.1")
	if l.blocked(a, now) != 0 || l.fail(a, now) != 0 || l.fail(a, now) != 0 {
		t.Fatal("within allowance")
	}
	if w := l.fail(a, now); w <= 0 || w > 30*time.Second {
		t.Fatalf("third failure: wait %v", w)
	}
	if l.blocked(a, now) == 0 {
		t.Fatal("not blocked")
	}
	if l.blocked(a, now.Add(31*time.Second)) != 0 {
		t.Fatal("still blocked after a token came back")
	}
	// Many addresses: the maps never hold more than two generations of max entries.
	for i := range 1000 {
		l.fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	if n := len(l.cur) + len(l.prev); n > 20 {
		t.Errorf("%d limiters kept", n)
	}
}

// countingStore counts account loads.
type countingStore struct {
	Store
	loads atomic.Int32
}

func (c *countingStore) Account(ctx context.Context, id string) (*model.Account, error) {
	c.loads.Add(1)
	return c.Store.Account(ctx, id)
}

func TestCacheNegativeAndBudget(t *testing.T) {
	cs := &countingStore{}
	f := newFixture(t, func(o *Options) { o.Store = cs; o.NegativeCacheTTL = time.Hour; o.RefreshAfter = time.Hour })
	cs.Store = f.store
	m := f.mk(nil, "1")
	ghost := &testkit.Account{Account: &model.Account{ID: "SA_GHOST00000000000000X"}, Token: m.Token}
	for range 3 {
		if a := f.do(call{path: smsPath(m), as: ghost}); a.Status != 401 {
			t.Fatal(a.Status)
		}
		f.gw.cache.c.Wait()
	}
	if n := cs.loads.Load(); n != 1 {
		t.Errorf("unknown id loaded %d times, want once (negative cache)", n)
	}
	// A bad token on a cached account costs no store read (within RefreshAfter).
	f.do(call{path: smsPath(m), as: m})
	f.gw.cache.c.Wait()
	before := cs.loads.Load()
	for range 3 {
		if a := f.do(call{path: smsPath(m), as: m, tok: flipFirst(m.Token)}); a.Status != 401 {
			t.Fatal(a.Status)
		}
	}
	if cs.loads.Load() != before {
		t.Errorf("bad tokens on a cached account read the store")
	}
	if f.gw.cache.c.MaxCost() != 64<<20 {
		t.Errorf("default budget %d", f.gw.cache.c.MaxCost())
	}
}

func TestNewErrors(t *testing.T) {
	s := &countingStore{}
	ok := map[string]Upstream{"voice": {URL: "http://127.0.0.1:1"}, "sms": {URL: "http://127.0.0.1:2"}}
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown upstream", Options{Store: s, Routes: []policy.RouteSpec{{Method: "POST", Path: "/{auth_id}/", Upstream: "fax"}}, Upstreams: ok},
			`routes[0].upstream: unknown upstream "fax"`},
		{"bad url", Options{Store: s, Upstreams: map[string]Upstream{"v": {URL: "ftp://x"}}}, `upstreams.v.url: "ftp://x" is not an http(s)://host:port URL`},
		{"url path", Options{Store: s, Upstreams: map[string]Upstream{"v": {URL: "http://x/base"}}}, `upstreams.v.url: "http://x/base" must not have a path, query or user`},
		{"route", Options{Store: s, Routes: []policy.RouteSpec{{Method: "POST", Path: "/{auth_id}/", Upstream: "voice", Price: "x"}}, Upstreams: ok},
			`routes[0].price: "x": not a decimal amount: invalid route`},
	}
	for _, c := range cases {
		if _, err := New(c.o); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

func TestSandboxThroughGateway(t *testing.T) {
	voice, sms, stop, err := StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	f := newFixture(t, func(o *Options) {
		o.Upstreams = map[string]Upstream{"voice": {URL: voice}, "sms": {URL: sms}}
	})
	m := f.mk(nil, "1")
	k := f.mk(m, "")
	a := f.do(call{path: callPath(k), as: k, body: `{"from":"1","to":"2","answer_url":"http://x"}`})
	var call1 struct{ APIID, CallUUID, AccountID string }
	var raw map[string]any
	if err := json.Unmarshal(a.Body, &raw); err != nil || a.Status != 201 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	call1.CallUUID, _ = raw["call_uuid"].(string)
	call1.AccountID, _ = raw["account_id"].(string)
	if len(call1.CallUUID) != 36 || call1.AccountID != k.ID || a.Header["X-Charge"] != "0.01" {
		t.Errorf("call: %s %v", a.Body, a.Header)
	}
	if a := f.do(call{method: "GET", path: callPath(k), as: k}); a.Status != 200 {
		t.Errorf("list: %d %s", a.Status, a.Body)
	}
	a = f.do(call{path: smsPath(k), as: k, body: `{"src":"1","dst":"2","text":"hi"}`})
	if err := json.Unmarshal(a.Body, &raw); err != nil || a.Status != 202 || raw["message_uuid"] == nil {
		t.Fatalf("sms: %d %s", a.Status, a.Body)
	}
	if got := f.bal(m); got != testkit.Amt("0.985") {
		t.Errorf("balance %v, want 0.985", got)
	}
}

// flipFirst returns tok with its first character changed: always a different, well-formed token.
func flipFirst(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}

// TestStripHeaders: every header of the strip lists goes, whatever its case, alone or with
// others; other headers stay; a message with none of them is left as it was.
func TestStripHeaders(t *testing.T) {
	for _, name := range requestStrip {
		for _, k := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			var req fasthttp.Request
			req.Header.Set("X-Keep", "1")
			req.Header.Set(k, "v")
			stripRequest(&req.Header)
			if v := req.Header.Peek(name); len(v) > 0 {
				t.Errorf("request header %s survived: %q", k, v)
			}
			if string(req.Header.Peek("X-Keep")) != "1" {
				t.Errorf("stripping %s took X-Keep", k)
			}
		}
	}
	var req fasthttp.Request
	req.Header.Set("Connection", "close")
	stripRequest(&req.Header)
	if req.Header.ConnectionClose() {
		t.Error("Connection: close survived")
	}
	// several at once, one of them twice
	req.Reset()
	req.Header.Set("Authorization", "Basic eDp5")
	req.Header.Add("x-charge", "1")
	req.Header.Add("X-Charge", "2")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-Keep", "1")
	stripRequest(&req.Header)
	for _, k := range []string{"Authorization", "X-Charge", "Keep-Alive"} {
		if v := req.Header.Peek(k); len(v) > 0 {
			t.Errorf("%s survived among several: %q", k, v)
		}
	}
	if string(req.Header.Peek("X-Keep")) != "1" {
		t.Error("X-Keep went with the others")
	}
	for _, name := range responseStrip {
		for _, k := range []string{name, strings.ToLower(name)} {
			var resp fasthttp.Response
			resp.Header.Set("X-Keep", "1")
			resp.Header.Set(k, "v")
			stripResponse(&resp.Header)
			if v := resp.Header.Peek(name); len(v) > 0 {
				t.Errorf("response header %s survived: %q", k, v)
			}
			if string(resp.Header.Peek("X-Keep")) != "1" {
				t.Errorf("stripping %s took X-Keep", k)
			}
		}
	}
	var resp fasthttp.Response
	resp.Header.Set("X-Keep", "1")
	resp.Header.Set("Content-Type", "application/json")
	before := resp.Header.String()
	stripResponse(&resp.Header)
	if resp.Header.String() != before {
		t.Errorf("a clean answer changed:\n%s\n%s", before, resp.Header.String())
	}
}
