package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Credentials of one account. The token is kept for library callers but never reported (no JSON).
type Credentials struct {
	AuthID    string `json:"auth_id"`
	AuthToken string `json:"-"` // never reported
}

// Seeded names the accounts Run created.
type Seeded struct {
	Main      Credentials `json:"main"`
	Sub       Credentials `json:"sub"`
	Credited  string      `json:"credited"`   // amount credited to Main
	RateLimit int         `json:"rate_limit"` // of both accounts, req/s
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

// seed creates and credits a main account through the operator API and a subaccount under it
// through the public API.
func seed(ctx context.Context, a *apiClient, o Options) (*Seeded, error) {
	if o.OperatorToken == "" {
		return nil, fmt.Errorf("no operator token: pass --operator-token, set GATEWAY_OPERATOR_TOKEN, " +
			"or run where `gateway serve` keeps data/operator_token; or give --auth-id and --auth-token")
	}
	bearer := [][2]string{{"Authorization", "Bearer " + o.OperatorToken}}
	var ma created
	err := a.call(ctx, "POST", join(o.Operator, "/admin/v1/Account/"), bearer,
		map[string]any{"name": "bench", "rate_limit": o.RateLimit}, &ma, 201)
	if err != nil {
		return nil, err
	}
	if !ma.valid() {
		return nil, fmt.Errorf("creating the main account: the answer lacks auth_id or auth_token")
	}
	err = a.call(ctx, "POST", join(o.Operator, "/admin/v1/Account/"+ma.AuthID+"/Credit/"), bearer,
		map[string]any{"amount": o.Credit, "reference": "gateway bench"}, nil, 201)
	if err != nil {
		return nil, err
	}
	var sa created
	err = a.call(ctx, "POST", join(o.Target, "/v1/Account/"+ma.AuthID+"/Subaccount/"),
		[][2]string{{"Authorization", basic(ma.AuthID, ma.AuthToken)}},
		map[string]any{"name": "bench-sub", "rate_limit": o.RateLimit}, &sa, 201)
	if err != nil {
		return nil, err
	}
	if !sa.valid() {
		return nil, fmt.Errorf("creating the subaccount: the answer lacks auth_id or auth_token")
	}
	return &Seeded{
		Main:     Credentials(ma),
		Sub:      Credentials(sa),
		Credited: o.Credit, RateLimit: o.RateLimit,
	}, nil
}

// balanceRead is what GET /v1/Account/{auth_id}/Balance/ answers, amounts parsed.
type balanceRead struct {
	BillingAuthID string
	Currency      string
	Balance       micros
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
	return &balanceRead{BillingAuthID: out.BillingAuthID, Currency: out.Currency, Balance: b}, nil
}
