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

// hotFields are the account fields kept packed in the record's field "hv", in this order,
// joined by '|' (keys.go; the scripts' HOTF in lua/prelude.lua, which a test pins to this).
var hotFields = [...]string{"status", "own", "p_calls", "p_sms", "p_cdr", "rate", "tat", "last_used", "bal", "credit", "held"}

// hotValue packs a's hot fields (hotFields) as the record's "hv"; its tat starts at 0.
func hotValue(a *model.Account) string {
	return strings.Join([]string{a.Status, b01(a.Own), b01(a.Perms.Calls), b01(a.Perms.SMS), b01(a.Perms.CDR),
		itoa(int64(a.RateLimit)), "0", itoa(a.LastUsed), itoa(int64(a.Balance)), itoa(int64(a.CreditLimit)), itoa(int64(a.Held))}, "|")
}

// unpackHot puts the hot fields packed in m["hv"] into m by name, as a record from before
// "hv" has them; a record without "hv" is left as it is. False when "hv" is malformed.
func unpackHot(m map[string]string) bool {
	hv, ok := m["hv"]
	if !ok {
		return true
	}
	parts := strings.Split(hv, "|")
	if len(parts) != len(hotFields) {
		return false
	}
	for i, f := range hotFields {
		m[f] = parts[i]
	}
	return true
}

// accountFields returns the hash fields of a for HSET, absent optional fields omitted.
//
// The order matters for speed: Redis keeps a small hash as a listpack that HMGET and HSET
// scan from the front, so the fields the admit script reads on every request come first
// (the hot value, then the token), and the ones it may read that may be unset (tok_prev)
// exist from the start (a missing field costs a scan of the whole hash).
func accountFields(a *model.Account) []interface{} {
	f := []interface{}{
		"hv", hotValue(a), "tok", a.Tok, "id", a.ID, "tok_prev", a.TokPrev, "tok_prev_exp", itoa(a.TokPrevExp),
		"kyc_mode", a.KYCMode, "kyc_status", a.KYCStatus,
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

// accountFromHash decodes a hash read with HGETALL (its hot fields packed in "hv" or, in a
// record from before "hv", plain); nil when the hash is empty or its "hv" is malformed.
func accountFromHash(m map[string]string) *model.Account {
	if len(m) == 0 || m["id"] == "" || !unpackHot(m) {
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
