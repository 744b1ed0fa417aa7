package admin

import (
	"time"

	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// redacted is what auth_token reads as everywhere but the create and rotate answers.
const redacted = "<redacted>"

// accountJSON is the account object of API.md §4, fields in the documented order.
type accountJSON struct {
	AuthID           string        `json:"auth_id"`
	AuthToken        string        `json:"auth_token"`
	Name             string        `json:"name"`
	Description      *string       `json:"description"`
	Email            *string       `json:"email"`
	ParentAuthID     *string       `json:"parent_auth_id"`
	RootAuthID       string        `json:"root_auth_id"`
	Depth            int           `json:"depth"`
	Status           string        `json:"status"`
	Enabled          bool          `json:"enabled"`
	IsActive         bool          `json:"is_active"`
	Permissions      permsJSON     `json:"permissions"`
	RateLimit        int           `json:"rate_limit"`
	KYCMode          string        `json:"kyc_mode"`
	BusinessType     *string       `json:"business_type"`
	KYCStatus        string        `json:"kyc_status"`
	KYCCallsBlocked  bool          `json:"kyc_calls_blocked"`
	UseParentBalance bool          `json:"use_parent_balance"`
	Balance          *model.Amount `json:"balance"`
	CreditLimit      model.Amount  `json:"credit_limit"`
	Currency         string        `json:"currency"`
	SubaccountCount  int           `json:"subaccount_count"`
	MaxSubaccounts   int           `json:"max_subaccounts"`
	MaxCalls         int           `json:"max_concurrent_calls"`
	CPS              int           `json:"calls_per_second"`
	ActiveCalls      int           `json:"active_calls"`
	CreatedAt        string        `json:"created_at"`
	UpdatedAt        string        `json:"updated_at"`
	LastUsed         *string       `json:"last_used"`
	ResourceURI      string        `json:"resource_uri"`
}

type permsJSON struct {
	Calls       bool `json:"calls"`
	SMS         bool `json:"sms"`
	CDR         bool `json:"cdr"`
	Subaccounts bool `json:"subaccounts"`
}

// timeLayout is RFC 3339 in UTC with microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatMicros(us int64) string { return time.UnixMicro(us).UTC().Format(timeLayout) }

func optMicros(us int64) *string {
	if us == 0 {
		return nil
	}
	s := formatMicros(us)
	return &s
}

// accountView renders a with its ancestors' records (parent first; they decide is_active
// and kyc_calls_blocked). token is the clear auth_token, or "" for "<redacted>".
func accountView(a *model.Account, ancestors []*model.Account, token string) accountJSON {
	v := accountJSON{
		AuthID: a.ID, AuthToken: redacted, Name: a.Name, Description: a.Desc, Email: a.Email,
		RootAuthID: a.Root, Depth: a.Depth, Status: a.Status,
		Enabled:     a.Status == model.StatusActive,
		IsActive:    policy.IsActive(a, ancestors),
		Permissions: permsJSON{Calls: a.Perms.Calls, SMS: a.Perms.SMS, CDR: a.Perms.CDR, Subaccounts: a.Perms.Sub},
		RateLimit:   a.RateLimit, KYCMode: a.KYCMode, BusinessType: a.BusinessType, KYCStatus: a.KYCStatus,
		KYCCallsBlocked:  policy.KYCCallsBlocked(a, ancestors),
		UseParentBalance: !a.Own, CreditLimit: a.CreditLimit, Currency: a.Currency,
		SubaccountCount: a.Kids, MaxSubaccounts: a.MaxSub,
		MaxCalls: a.MaxCalls, CPS: a.CPS, ActiveCalls: a.ActiveCalls,
		CreatedAt: formatMicros(a.Created), UpdatedAt: formatMicros(a.Updated), LastUsed: optMicros(a.LastUsed),
		ResourceURI: resourceURI(a),
	}
	if token != "" {
		v.AuthToken = token
	}
	if a.Parent != "" {
		p := a.Parent
		v.ParentAuthID = &p
	}
	if a.Own {
		b := a.Balance
		v.Balance = &b
	}
	return v
}

// resourceURI is where the account is read on the public listener.
func resourceURI(a *model.Account) string {
	if a.Parent == "" {
		return "/v1/Account/" + a.ID + "/"
	}
	return "/v1/Account/" + a.Parent + "/Subaccount/" + a.ID + "/"
}
