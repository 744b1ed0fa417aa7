package balance

import (
	"strconv"
	"strings"

	"github.com/tenantgw/gateway/policy/model"
)

// permArgs are the account hash fields of the permission flags, by model.Permission, as the
// admit script's perm argument ("" for none). They are interface values already, so building
// a script call's arguments does not allocate for them.
var permArgs = [...]interface{}{model.PermNone: "", model.PermCalls: "p_calls", model.PermSMS: "p_sms",
	model.PermCDR: "p_cdr", model.PermSub: "p_sub"}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// accountFields returns the hash fields of a for HSET, absent optional fields omitted.
//
// The order matters for speed: Redis keeps a small hash as a listpack that HMGET and HSET
// scan from the front, so the fields the admit script reads and writes on every request
// come first (the money a payer's admit reads, bal, credit and held, together), and the ones
// it reads that may be unset (tok_prev, last_used, tat) exist from the start (a missing field
// costs a scan of the whole hash).
func accountFields(a *model.Account) []interface{} {
	f := []interface{}{
		"id", a.ID, "status", a.Status, "tat", "0", "rate", itoa(int64(a.RateLimit)),
		"own", b01(a.Own), "bal", itoa(int64(a.Balance)), "credit", itoa(int64(a.CreditLimit)), "held", itoa(int64(a.Held)),
		"p_calls", b01(a.Perms.Calls), "p_sms", b01(a.Perms.SMS), "p_cdr", b01(a.Perms.CDR),
		"kyc_mode", a.KYCMode, "kyc_status", a.KYCStatus,
		"tok", a.Tok, "tok_prev", a.TokPrev, "tok_prev_exp", itoa(a.TokPrevExp), "last_used", itoa(a.LastUsed),
		"p_sub", b01(a.Perms.Sub), "parent", a.Parent, "root", a.Root, "depth", itoa(int64(a.Depth)),
		"chain", strings.Join(a.Chain, ","), "name", a.Name,
		"currency", a.Currency, "max_sub", itoa(int64(a.MaxSub)), "kids", itoa(int64(a.Kids)),
		"created", itoa(a.Created), "updated", itoa(a.Updated),
		"mcc", itoa(int64(a.MaxCalls)), "cps", itoa(int64(a.CPS)),
	}
	for _, o := range []struct {
		k string
		v *string
	}{{"desc", a.Desc}, {"email", a.Email}, {"btype", a.BusinessType}} {
		if o.v != nil {
			f = append(f, o.k, *o.v)
		}
	}
	return f
}

func optional(m map[string]string, k string) *string {
	if v, ok := m[k]; ok {
		return &v
	}
	return nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// accountFromHash decodes a hash read with HGETALL; nil when the hash is empty.
func accountFromHash(m map[string]string) *model.Account {
	if len(m) == 0 || m["id"] == "" {
		return nil
	}
	a := &model.Account{
		ID: m["id"], Parent: m["parent"], Root: m["root"], Depth: int(atoi(m["depth"])),
		Name: m["name"], Desc: optional(m, "desc"), Email: optional(m, "email"), BusinessType: optional(m, "btype"),
		Status:    m["status"],
		Perms:     model.Perms{Calls: m["p_calls"] == "1", SMS: m["p_sms"] == "1", CDR: m["p_cdr"] == "1", Sub: m["p_sub"] == "1"},
		RateLimit: int(atoi(m["rate"])), KYCMode: m["kyc_mode"], KYCStatus: m["kyc_status"],
		Own: m["own"] == "1", Balance: model.Amount(atoi(m["bal"])), CreditLimit: model.Amount(atoi(m["credit"])),
		Currency: m["currency"], MaxSub: int(atoi(m["max_sub"])), Kids: int(atoi(m["kids"])),
		Created: atoi(m["created"]), Updated: atoi(m["updated"]), LastUsed: atoi(m["last_used"]), Closed: atoi(m["closed"]),
		Tok: m["tok"], TokPrev: m["tok_prev"], TokPrevExp: atoi(m["tok_prev_exp"]),
		MaxCalls: int(atoi(m["mcc"])), CPS: int(atoi(m["cps"])), Held: model.Amount(atoi(m["held"])),
	}
	if c := m["chain"]; c != "" {
		a.Chain = strings.Split(c, ",")
	}
	return a
}
