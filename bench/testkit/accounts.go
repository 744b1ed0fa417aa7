package testkit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Account is a test account as stored, with its clear token.
type Account struct {
	*model.Account
	Token string
}

// TokenHash is the hex SHA-256 of the account's clear token, as an admit request carries it.
func (a *Account) TokenHash() []byte { return []byte(policy.HashToken([]byte(a.Token)).Hex()) }

// Option changes an account record before NewAccount creates it.
type Option func(*model.Account)

// Rate sets the account's rate limit (requests per second).
func Rate(n int) Option { return func(a *model.Account) { a.RateLimit = n } }

// Perms sets the account's permissions.
func Perms(p model.Perms) Option { return func(a *model.Account) { a.Perms = p } }

// Own gives a subaccount its own balance (a main account always has one).
func Own() Option { return func(a *model.Account) { a.Own = true } }

// Credit sets the account's credit limit, a decimal amount.
func Credit(s string) Option { return func(a *model.Account) { a.CreditLimit = Amt(s) } }

// KYC sets the account's KYC mode and status.
func KYC(mode, status string) Option {
	return func(a *model.Account) { a.KYCMode, a.KYCStatus = mode, status }
}

// Amt parses a decimal amount; it panics on a malformed one (a literal in a test).
func Amt(s string) model.Amount {
	v, err := model.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return v
}

var idSeq atomic.Int64

// NewAccount creates an account in s under parent (nil: a main account, which has its own
// balance) and, when credit is not "", credits its own balance with that amount. Before opts,
// the account is active, named "t", may do everything (calls, SMS, CDRs, subaccounts), has a
// rate limit of 1000/s, up to 1000 subaccounts, personal KYC not required, currency USD and a
// fresh token; a subaccount shares its parent's balance. Ids are unique within the process.
func NewAccount(t testing.TB, s *balance.Store, parent *Account, credit string, opts ...Option) *Account {
	t.Helper()
	tok := policy.NewToken()
	a := &model.Account{Name: "t", Status: model.StatusActive,
		Perms: model.Perms{Calls: true, SMS: true, CDR: true, Sub: true}, RateLimit: 1000,
		KYCMode: model.KYCPersonal, KYCStatus: model.KYCNotRequired, Currency: "USD",
		MaxSub: 1000, Tok: policy.HashToken([]byte(tok)).Hex()}
	if parent == nil {
		a.ID = fmt.Sprintf("MA_T%019d", idSeq.Add(1))
		a.Root, a.Own = a.ID, true
	} else {
		a.ID = fmt.Sprintf("SA_T%019d", idSeq.Add(1))
		a.Parent, a.Root, a.Depth = parent.ID, parent.Root, parent.Depth+1
		a.Chain = append([]string{parent.ID}, parent.Chain...)
	}
	for _, o := range opts {
		o(a)
	}
	ctx := context.Background()
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if credit != "" {
		if _, _, err := s.Credit(ctx, a, Amt(credit), policy.NewTransferID(), "test"); err != nil {
			t.Fatal(err)
		}
	}
	return &Account{Account: a, Token: tok}
}

// Balance reads a's own balance from s.
func Balance(t testing.TB, s *balance.Store, a *Account) model.Amount {
	t.Helper()
	x, err := s.AccountIn(context.Background(), a.Root, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return x.Balance
}

// MaxCalls sets the account's max_concurrent_calls (0 = none).
func MaxCalls(n int) Option { return func(a *model.Account) { a.MaxCalls = n } }

// CPS sets the account's calls_per_second (0 = none).
func CPS(n int) Option { return func(a *model.Account) { a.CPS = n } }
