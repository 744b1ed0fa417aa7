package bench

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeGateway implements just what bench calls: operator create and credit, subaccount
// create, balance, adding a number (operator), moving and listing numbers, and the call
// path, which refuses a "from" the path account does not own (403 NUMBER_NOT_OWNED), and
// otherwise answers 201 and debits price — except every refuseEvery-th call, which gets 429
// and is not charged.
type fakeGateway struct {
	t           testing.TB
	token       string // operator token
	price       micros
	refuseEvery int
	onCall      func(n int) // called after each call, outside the lock

	mu       sync.Mutex
	seq      int
	tokens   map[string]string // auth_id → auth_token
	parent   map[string]string // SA → MA
	balances map[string]micros // MA → balance
	numbers  map[string]string // number → owner
	calls    int
	bodies   int // calls that carried the default JSON body with the account's own number
	lastBody string
}

func newFakeGateway(t testing.TB) *fakeGateway {
	return &fakeGateway{t: t, token: "optoken", price: 10000, tokens: map[string]string{},
		parent: map[string]string{}, balances: map[string]micros{}, numbers: map[string]string{}}
}

func (f *fakeGateway) newID(prefix string) (string, string) {
	f.seq++
	id := fmt.Sprintf("%s%020d", prefix, f.seq)
	tok := fmt.Sprintf("%040d", f.seq)
	f.tokens[id] = tok
	return id, tok
}

func fail(ctx *fasthttp.RequestCtx, status int, code string) {
	ctx.SetStatusCode(status)
	fmt.Fprintf(ctx, `{"status":"error","error":{"code":%q,"message":"fake"},"request_id":"x"}`, code)
}

// caller authenticates the public API (headers or Basic) and returns the auth_id.
func (f *fakeGateway) caller(ctx *fasthttp.RequestCtx) string {
	id, tok := string(ctx.Request.Header.Peek("X-Auth-ID")), string(ctx.Request.Header.Peek("X-Auth-Token"))
	if a := string(ctx.Request.Header.Peek("Authorization")); strings.HasPrefix(a, "Basic ") {
		raw, _ := base64.StdEncoding.DecodeString(a[6:])
		id, tok, _ = strings.Cut(string(raw), ":")
	}
	if id == "" || f.tokens[id] != tok {
		return ""
	}
	return id
}

func (f *fakeGateway) billing(id string) string {
	if p, ok := f.parent[id]; ok {
		return p
	}
	return id
}

func (f *fakeGateway) handle(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	parts := strings.Split(strings.Trim(string(ctx.Path()), "/"), "/")
	method := string(ctx.Method())
	var in map[string]any
	if len(ctx.PostBody()) > 0 && method != "GET" {
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil {
			fail(ctx, 400, "INVALID_REQUEST")
			return
		}
	}
	if parts[0] == "admin" {
		if string(ctx.Request.Header.Peek("Authorization")) != "Bearer "+f.token {
			fail(ctx, 401, "INVALID_CREDENTIALS")
			return
		}
	}
	f.mu.Lock()
	n := 0
	switch {
	case method == "POST" && len(parts) == 3 && parts[0] == "admin": // /admin/v1/Account/
		if in["name"] != "bench" || in["rate_limit"] != float64(DefaultRateLimit) {
			f.t.Errorf("operator create: body %v", in)
		}
		id, tok := f.newID("MA_")
		f.balances[id] = 0
		ctx.SetStatusCode(201)
		fmt.Fprintf(ctx, `{"auth_id":%q,"auth_token":%q,"rate_limit":1000000}`, id, tok)
	case method == "POST" && len(parts) == 5 && parts[0] == "admin" && parts[4] == "Credit":
		amt, err := parseMicros(fmt.Sprint(in["amount"]))
		if _, ok := f.balances[parts[3]]; !ok || err != nil {
			fail(ctx, 404, "NOT_FOUND")
			break
		}
		f.balances[parts[3]] += amt
		ctx.SetStatusCode(201)
		fmt.Fprintf(ctx, `{"transfer_id":"TR_1","kind":"credit","amount":%q}`, amt.String())
	case method == "POST" && len(parts) == 5 && parts[0] == "admin" && parts[4] == "Number":
		num := fmt.Sprint(in["number"])
		if _, taken := f.numbers[num]; taken {
			fail(ctx, 409, "number_taken")
			break
		}
		f.numbers[num] = parts[3]
		ctx.SetStatusCode(201)
		fmt.Fprintf(ctx, `{"number":%q,"auth_id":%q}`, num, parts[3])
	case method == "POST" && len(parts) == 5 && parts[0] == "v1" && parts[3] == "Number":
		who, num, to := f.caller(ctx), parts[4], fmt.Sprint(in["auth_id"])
		if who == "" || who != parts[2] || f.numbers[num] != who || f.parent[to] != who {
			fail(ctx, 403, "FORBIDDEN")
			break
		}
		f.numbers[num] = to
		fmt.Fprintf(ctx, `{"number":%q,"auth_id":%q}`, num, to)
	case len(parts) == 4 && parts[0] == "v1":
		who := f.caller(ctx)
		acct := parts[2]
		if who == "" {
			fail(ctx, 401, "INVALID_CREDENTIALS")
			break
		}
		if acct != who {
			fail(ctx, 403, "FORBIDDEN")
			break
		}
		switch {
		case method == "POST" && parts[3] == "Subaccount":
			if in["name"] != "bench-sub" {
				f.t.Errorf("subaccount create: body %v", in)
			}
			id, tok := f.newID("SA_")
			f.parent[id] = who
			ctx.SetStatusCode(201)
			fmt.Fprintf(ctx, `{"auth_id":%q,"auth_token":%q,"parent_auth_id":%q}`, id, tok, who)
		case method == "GET" && parts[3] == "Balance":
			b := f.billing(acct)
			fmt.Fprintf(ctx, `{"auth_id":%q,"billing_auth_id":%q,"balance":%q,"currency":"USD"}`, acct, b, f.balances[b].String())
		case method == "GET" && parts[3] == "Number":
			var objs []string
			for n, owner := range f.numbers {
				if owner == acct {
					objs = append(objs, fmt.Sprintf(`{"number":%q,"auth_id":%q}`, n, acct))
				}
			}
			fmt.Fprintf(ctx, `{"meta":{"total_count":%d},"objects":[%s]}`, len(objs), strings.Join(objs, ","))
		case method == "POST" && parts[3] == "Call":
			f.calls++
			n = f.calls
			f.lastBody = string(ctx.PostBody())
			from := fmt.Sprint(in["from"])
			if f.numbers[from] != acct {
				fail(ctx, 403, "NUMBER_NOT_OWNED")
				break
			}
			if f.lastBody == strings.ReplaceAll(DefaultBody, NumberPlaceholder, from) {
				f.bodies++
			}
			if f.refuseEvery > 0 && n%f.refuseEvery == 0 {
				fail(ctx, 429, "RATE_LIMITED")
				break
			}
			f.balances[f.billing(acct)] -= f.price
			ctx.SetStatusCode(201)
			ctx.SetBodyString(`{"message":"call fired"}`)
		default:
			fail(ctx, 404, "ROUTE_NOT_FOUND")
		}
	default:
		fail(ctx, 404, "ROUTE_NOT_FOUND")
	}
	f.mu.Unlock()
	if n > 0 && f.onCall != nil {
		f.onCall(n)
	}
}

// serve starts h on a loopback port and returns its base URL; the test stops it.
func serve(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return "http://" + ln.Addr().String()
}

// directUpstream answers 201 to every request and counts them.
type directUpstream struct {
	mu    sync.Mutex
	count int
	paths map[string]int
}

func (d *directUpstream) handle(ctx *fasthttp.RequestCtx) {
	d.mu.Lock()
	d.count++
	if d.paths == nil {
		d.paths = map[string]int{}
	}
	d.paths[string(ctx.Method())+" "+string(ctx.Path())]++
	d.mu.Unlock()
	ctx.SetStatusCode(201)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"message":"call fired"}`)
}

// closedURL is a loopback URL where nothing listens.
func closedURL(t testing.TB) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	_ = ln.Close()
	return u
}
