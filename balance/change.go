package balance

import (
	"strconv"
	"strings"
	"time"

	"github.com/tenantgw/gateway/policy/model"
)

// Change is a partial update of an account, in the record's terms: a nil pointer, an unset
// Nullable or an empty Status leaves the field alone. Values are already validated (package
// admin checks them against the API); the store checks only what must be atomic (see
// UpdateAccount). How each field is stored is balance's (keys.go).
type Change struct {
	Name                      *string
	Desc, Email, BusinessType Nullable
	KYCMode, KYCStatus        *string
	Perms                     map[model.Permission]bool // flags to switch on or off
	RateLimit, MaxSub         *int
	MaxCalls, CPS             *int // max_concurrent_calls, calls_per_second
	CreditLimit               *model.Amount

	Status    string        // new status, or ""
	WantOwn   *bool         // use_parent_balance false (true) or true (false)
	Retention time.Duration // how long a closed record stays readable
	CloseTrID string        // ledger id for the balance returned on close
}

// Nullable is a change to an optional text field: Set false leaves it alone; Set with a nil
// Value clears it (the API's null).
type Nullable struct {
	Set   bool
	Value *string
}

// Empty reports whether ch changes nothing.
func (ch *Change) Empty() bool {
	return ch.Name == nil && !ch.Desc.Set && !ch.Email.Set && !ch.BusinessType.Set &&
		ch.KYCMode == nil && ch.KYCStatus == nil && len(ch.Perms) == 0 && ch.RateLimit == nil &&
		ch.MaxSub == nil && ch.MaxCalls == nil && ch.CPS == nil && ch.CreditLimit == nil && ch.Status == "" && ch.WantOwn == nil
}

// fields returns the hash fields ch sets, as field, value, … for HSET, in a fixed order, and
// the comma-separated fields it deletes (the nullable ones set to null).
func (ch *Change) fields() (set []interface{}, del string) {
	if ch.Name != nil {
		set = append(set, "name", *ch.Name)
	}
	var dels []string
	for _, f := range []struct {
		k string
		n Nullable
	}{{"desc", ch.Desc}, {"email", ch.Email}, {"btype", ch.BusinessType}} {
		switch {
		case !f.n.Set:
		case f.n.Value == nil:
			dels = append(dels, f.k)
		default:
			set = append(set, f.k, *f.n.Value)
		}
	}
	if ch.KYCMode != nil {
		set = append(set, "kyc_mode", *ch.KYCMode)
	}
	if ch.KYCStatus != nil {
		set = append(set, "kyc_status", *ch.KYCStatus)
	}
	for p := model.PermNone + 1; p.Valid(); p++ {
		if v, ok := ch.Perms[p]; ok {
			set = append(set, permArgs[p], b01(v))
		}
	}
	if ch.RateLimit != nil {
		set = append(set, "rate", strconv.Itoa(*ch.RateLimit))
	}
	if ch.MaxSub != nil {
		set = append(set, "max_sub", strconv.Itoa(*ch.MaxSub))
	}
	if ch.MaxCalls != nil {
		set = append(set, "mcc", strconv.Itoa(*ch.MaxCalls))
	}
	if ch.CPS != nil {
		set = append(set, "cps", strconv.Itoa(*ch.CPS))
	}
	if ch.CreditLimit != nil {
		set = append(set, "credit", itoa(int64(*ch.CreditLimit)))
	}
	return set, strings.Join(dels, ",")
}
