package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Credentials of one account. The token is kept for library callers but never reported (no JSON).
type Credentials struct {
	AuthID    string `json:"auth_id"`
	AuthToken string `json:"-"` // never reported
}

// Seeded names the accounts Run created: Tenants main accounts, each credited Credited and
// with Subs subaccounts; the load ran round robin over all Accounts subaccounts. Main and Sub
// are the first of each (the only ones with the defaults of 1 × 1).
type Seeded struct {
	Main      Credentials `json:"main"`
	Sub       Credentials `json:"sub"`
	Tenants   int         `json:"tenants"`    // main accounts
	Subs      int         `json:"subs"`       // subaccounts under each
	Accounts  int         `json:"accounts"`   // load accounts: Tenants × Subs
	Credited  string      `json:"credited"`   // amount credited to each main account
	RateLimit int         `json:"rate_limit"` // of every account, req/s
	Seconds   float64     `json:"seconds"`    // how long seeding took
}

// apiClient makes the few management calls around a run (seeding, balances). It is not the
// load client.
type apiClient struct {
	c       *fasthttp.Client
	timeout time.Duration
}

func newAPIClient(timeout time.Duration) *apiClient {
	return &apiClient{timeout: timeout, c: &fasthttp.Client{
		Name: "gateway-bench", ReadTimeout: timeout, WriteTimeout: timeout,
		MaxIdleConnDuration: 5 * time.Second, MaxConnWaitTimeout: timeout,
	}}
}

// apiError is the gateway's error body (API.md §3).
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends a JSON request and decodes a JSON answer into out when the status is want.
func (a *apiClient) call(ctx context.Context, method, url string, hdr [][2]string, in, out any, want int) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	for _, h := range hdr {
		req.Header.Set(h[0], h[1])
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.Header.SetContentType("application/json")
		req.SetBody(b)
	}
	deadline := time.Now().Add(a.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.c.DoDeadline(req, resp, deadline); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode() != want {
		var e apiError
		msg := strings.TrimSpace(string(resp.Body()))
		if json.Unmarshal(resp.Body(), &e) == nil && e.Error.Code != "" {
			msg = e.Error.Code + ": " + e.Error.Message
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return fmt.Errorf("%s %s: status %d (want %d): %s", method, url, resp.StatusCode(), want, msg)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, url, err)
		}
	}
	return nil
}

type created struct {
	AuthID    string `json:"auth_id"`
	AuthToken string `json:"auth_token"`
}

func (c created) valid() bool {
	return c.AuthID != "" && c.AuthToken != "" && c.AuthToken != "<redacted>"
}

func basic(id, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+token))
}

func join(base, path string) string { return strings.TrimRight(base, "/") + path }

// seeding is what seed made: the report's summary, the main accounts (whose balances pay) and
// the load accounts, tenant by tenant.
type seeding struct {
	info  *Seeded
	mains []Credentials
	subs  []Credentials
}

// seed creates and credits Options.Tenants main accounts through the operator API, then
// Options.Subs subaccounts under each through the public API, Options.SeedConcurrency calls at
// a time, with a progress line a second. The first error stops it.
func seed(ctx context.Context, a *apiClient, o Options) (*seeding, error) {
	if o.OperatorToken == "" {
		return nil, fmt.Errorf("no operator token: pass --operator-token, set GATEWAY_OPERATOR_TOKEN, " +
			"or run where `gateway serve` keeps data/operator_token; or give --auth-id and --auth-token")
	}
	start := time.Now()
	bearer := [][2]string{{"Authorization", "Bearer " + o.OperatorToken}}
	sd := &seeding{mains: make([]Credentials, o.Tenants), subs: make([]Credentials, o.Tenants*o.Subs)}
	total := o.Tenants + len(sd.subs)
	var done atomic.Int64
	stopProgress := progressLines(o.Progress, "seeding", &done, total)
	defer stopProgress()

	err := inParallel(ctx, o.SeedConcurrency, o.Tenants, func(ctx context.Context, i int) error {
		var ma created
		err := a.call(ctx, "POST", join(o.Operator, "/admin/v1/Account/"), bearer,
			map[string]any{"name": "bench", "rate_limit": o.RateLimit}, &ma, 201)
		if err != nil {
			return err
		}
		if !ma.valid() {
			return fmt.Errorf("creating a main account: the answer lacks auth_id or auth_token")
		}
		err = a.call(ctx, "POST", join(o.Operator, "/admin/v1/Account/"+ma.AuthID+"/Credit/"), bearer,
			map[string]any{"amount": o.Credit, "reference": "gateway bench"}, nil, 201)
		if err != nil {
			return err
		}
		sd.mains[i] = Credentials(ma)
		done.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = inParallel(ctx, o.SeedConcurrency, len(sd.subs), func(ctx context.Context, j int) error {
		ma := sd.mains[j/o.Subs]
		var sa created
		err := a.call(ctx, "POST", join(o.Target, "/v1/Account/"+ma.AuthID+"/Subaccount/"),
			[][2]string{{"Authorization", basic(ma.AuthID, ma.AuthToken)}},
			map[string]any{"name": "bench-sub", "rate_limit": o.RateLimit}, &sa, 201)
		if err != nil {
			return err
		}
		if !sa.valid() {
			return fmt.Errorf("creating a subaccount: the answer lacks auth_id or auth_token")
		}
		sd.subs[j] = Credentials(sa)
		done.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sd.info = &Seeded{
		Main: sd.mains[0], Sub: sd.subs[0], Tenants: o.Tenants, Subs: o.Subs, Accounts: len(sd.subs),
		Credited: o.Credit, RateLimit: o.RateLimit, Seconds: time.Since(start).Seconds(),
	}
	return sd, nil
}

// inParallel runs fn(ctx, i) for i in [0, n) on at most workers goroutines and returns the
// first error (after which no new i starts), or ctx's.
func inParallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// progressLines writes "what: done of total" to w once a second until the returned func is
// called; a nil w writes nothing.
func progressLines(w io.Writer, what string, done *atomic.Int64, total int) (stop func()) {
	if w == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintf(w, "%s: %d of %d accounts\n", what, done.Load(), total)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// balanceRead is what GET /v1/Account/{auth_id}/Balance/ answers, amounts parsed.
type balanceRead struct {
	BillingAuthID string // "" for a sum over several
	Accounts      int    // billing accounts read
	Currency      string
	Balance       micros
}

// readBalances reads the balances of accounts (each as itself) and sums them: the money of
// a run that spread its load over several billing accounts. BillingAuthID is the one billing
// account, or "" when there are several.
func readBalances(ctx context.Context, a *apiClient, target string, accounts []Credentials) (*balanceRead, error) {
	reads := make([]*balanceRead, len(accounts))
	err := inParallel(ctx, 16, len(accounts), func(ctx context.Context, i int) error {
		var err error
		reads[i], err = readBalance(ctx, a, target, accounts[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	sum := *reads[0]
	for _, r := range reads[1:] {
		sum.Balance += r.Balance
		sum.Accounts++
		if r.Currency != sum.Currency {
			return nil, fmt.Errorf("billing accounts in different currencies (%s, %s): no one sum", sum.Currency, r.Currency)
		}
	}
	if len(reads) > 1 {
		sum.BillingAuthID = ""
	}
	return &sum, nil
}

func readBalance(ctx context.Context, a *apiClient, target string, c Credentials) (*balanceRead, error) {
	var out struct {
		BillingAuthID string          `json:"billing_auth_id"`
		Balance       json.RawMessage `json:"balance"`
		Currency      string          `json:"currency"`
	}
	err := a.call(ctx, "GET", join(target, "/v1/Account/"+c.AuthID+"/Balance/"),
		[][2]string{{"X-Auth-ID", c.AuthID}, {"X-Auth-Token", c.AuthToken}}, nil, &out, 200)
	if err != nil {
		return nil, err
	}
	b, err := jsonAmount(out.Balance)
	if err != nil {
		return nil, fmt.Errorf("balance of %s: %w", c.AuthID, err)
	}
	return &balanceRead{BillingAuthID: out.BillingAuthID, Accounts: 1, Currency: out.Currency, Balance: b}, nil
}
