package admin

import (
	"encoding/json"
	"net/mail"
	"strings"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
	"github.com/tenantgw/gateway/policy/model"
)

// Field sets of the bodies that carry account fields.
var (
	// publicFields are what a create or update on the public listener may say (API.md §4).
	publicFields = []string{"name", "description", "email", "status", "enabled", "permissions",
		"rate_limit", "kyc_mode", "business_type", "use_parent_balance", "credit_limit",
		"max_concurrent_calls", "calls_per_second"}
	// operatorUpdateFields adds max_subaccounts, which only the operator sets.
	operatorUpdateFields = append(append([]string(nil), publicFields...), "max_subaccounts")
	// mainCreateFields are what POST /admin/v1/Account/ takes (API.md §6, and description).
	mainCreateFields = []string{"name", "description", "email", "currency", "rate_limit",
		"credit_limit", "max_subaccounts", "max_concurrent_calls", "calls_per_second"}
)

// Bounds of account fields.
const (
	maxName         = 200
	maxDescription  = 1000
	maxEmail        = 254
	maxBusinessType = 100
	maxRateLimit    = 1_000_000
	maxMaxSub       = 1_000_000
	maxCallLimit    = 1_000_000 // max_concurrent_calls and calls_per_second (0 = none)
)

// accountInput is what a body says about an account's fields; nil or unset = not given.
type accountInput struct {
	name                 *string
	desc, email, btype   balance.Nullable // Set: given; a nil Value: null
	status               *string          // after the enabled alias
	calls, sms, cdr, sub *bool
	rate, maxSub         *int64
	maxCalls, cps        *int64
	kycMode              *string
	useParent            *bool
	credit               *model.Amount
	currency             *string
}

// parseAccountInput reads the fields of b, allowing only those in allowed. Fields are read
// in a fixed order, so the error for a body with several bad fields is always the same.
func parseAccountInput(b *body, allowed []string) (*accountInput, error) {
	if err := b.only(allowed...); err != nil {
		return nil, err
	}
	in := &accountInput{}
	var err error
	if raw, ok := b.m["name"]; ok {
		s, err := parseText("name", raw, textRule{max: maxName})
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			return nil, policy.Invalid("name", "must not be empty")
		}
		in.name = &s
	}
	if in.desc, err = nullableText(b, "description", textRule{max: maxDescription, multiline: true}); err != nil {
		return nil, err
	}
	if in.email, err = nullableText(b, "email", textRule{max: maxEmail}); err != nil {
		return nil, err
	}
	if in.email.Value != nil {
		if a, err := mail.ParseAddress(*in.email.Value); err != nil || a.Name != "" || a.Address != *in.email.Value {
			return nil, policy.Invalid("email", "must be an email address such as ops@example.com")
		}
	}
	if in.btype, err = nullableText(b, "business_type", textRule{max: maxBusinessType}); err != nil {
		return nil, err
	}
	if err := in.readStatus(b); err != nil {
		return nil, err
	}
	if raw, ok := b.m["permissions"]; ok {
		if err := in.readPerms(raw); err != nil {
			return nil, err
		}
	}
	if in.rate, err = optInt(b, "rate_limit", 1, maxRateLimit); err != nil {
		return nil, err
	}
	if in.maxSub, err = optInt(b, "max_subaccounts", 0, maxMaxSub); err != nil {
		return nil, err
	}
	if in.maxCalls, err = optInt(b, "max_concurrent_calls", 0, maxCallLimit); err != nil {
		return nil, err
	}
	if in.cps, err = optInt(b, "calls_per_second", 0, maxCallLimit); err != nil {
		return nil, err
	}
	if raw, ok := b.m["kyc_mode"]; ok {
		s, ok := jsonString(raw)
		if !ok || (s != model.KYCPersonal && s != model.KYCCustomer) {
			return nil, policy.Invalid("kyc_mode", "must be personal_use or customer_use")
		}
		in.kycMode = &s
	}
	if raw, ok := b.m["use_parent_balance"]; ok {
		v, err := parseBool("use_parent_balance", raw)
		if err != nil {
			return nil, err
		}
		in.useParent = &v
	}
	if raw, ok := b.m["credit_limit"]; ok {
		v, err := parseAmount("credit_limit", raw)
		if err != nil {
			return nil, err
		}
		if v < 0 {
			return nil, policy.Invalid("credit_limit", "must not be negative")
		}
		in.credit = &v
	}
	if raw, ok := b.m["currency"]; ok {
		s, ok := jsonString(raw)
		if !ok || !isCurrency(s) {
			return nil, policy.Invalid("currency", "must be an ISO 4217 code of three capital letters, such as USD")
		}
		in.currency = &s
	}
	return in, nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// nullableText reads a text field that may be null; "" reads as null too.
func nullableText(b *body, field string, r textRule) (balance.Nullable, error) {
	raw, ok := b.m[field]
	if !ok {
		return balance.Nullable{}, nil
	}
	if isNull(raw) {
		return balance.Nullable{Set: true}, nil
	}
	s, err := parseText(field, raw, r)
	if err != nil {
		return balance.Nullable{}, err
	}
	if s == "" {
		return balance.Nullable{Set: true}, nil
	}
	return balance.Nullable{Set: true, Value: &s}, nil
}

func optInt(b *body, field string, min, max int64) (*int64, error) {
	raw, ok := b.m[field]
	if !ok {
		return nil, nil
	}
	n, err := parseInt(field, raw, min, max)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// readStatus reads status and its alias enabled; both given must agree.
func (in *accountInput) readStatus(b *body) error {
	if raw, ok := b.m["status"]; ok {
		s, ok := jsonString(raw)
		if !ok || (s != model.StatusActive && s != model.StatusSuspended && s != model.StatusClosed) {
			return policy.Invalid("status", "must be active, suspended or closed")
		}
		in.status = &s
	}
	if raw, ok := b.m["enabled"]; ok {
		en, err := parseBool("enabled", raw)
		if err != nil {
			return err
		}
		s := model.StatusSuspended
		if en {
			s = model.StatusActive
		}
		if in.status != nil && *in.status != s {
			return policy.Invalid("enabled", "contradicts status")
		}
		in.status = &s
	}
	return nil
}

// readPerms reads the permissions object; each flag is optional.
func (in *accountInput) readPerms(raw json.RawMessage) error {
	m, err := jsonObject(raw, "permissions.")
	if err != nil {
		return err
	}
	var unknown []string
	for k := range m {
		switch k {
		case "calls", "sms", "cdr", "subaccounts":
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return policy.Invalid("permissions."+minString(unknown), "unknown permission")
	}
	for _, f := range []struct {
		k   string
		dst **bool
	}{{"calls", &in.calls}, {"sms", &in.sms}, {"cdr", &in.cdr}, {"subaccounts", &in.sub}} {
		if r, ok := m[f.k]; ok {
			v, err := parseBool("permissions."+f.k, r)
			if err != nil {
				return err
			}
			*f.dst = &v
		}
	}
	return nil
}

func minString(s []string) string {
	m := s[0]
	for _, x := range s[1:] {
		if x < m {
			m = x
		}
	}
	return m
}

// requireEmailForKYC is the KYC rule: customer_use needs an email.
func requireEmailForKYC(mode string, email *string) error {
	if mode == model.KYCCustomer && email == nil {
		return policy.Invalid("email", "required when kyc_mode is customer_use")
	}
	return nil
}

func orBool(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}
