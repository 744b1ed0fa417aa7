package model

// Permission names one permission flag of an account (one field of Perms). A route needs at
// most one; PermNone, the zero value, is a route that needs none.
type Permission uint8

// Permissions.
const (
	PermNone  Permission = iota // no flag needed
	PermCalls                   // Perms.Calls, "calls"
	PermSMS                     // Perms.SMS, "sms"
	PermCDR                     // Perms.CDR, "cdr"
	PermSub                     // Perms.Sub, "subaccounts"
	permCount
)

var permNames = [permCount]string{"", "calls", "sms", "cdr", "subaccounts"}

// String returns the flag's name in the API's permissions object ("calls", "sms", "cdr",
// "subaccounts"), "" for PermNone and for a value that names no flag.
func (p Permission) String() string {
	if p < permCount {
		return permNames[p]
	}
	return ""
}

// Valid reports whether p is PermNone or names a flag.
func (p Permission) Valid() bool { return p < permCount }

// ParsePermission returns the Permission whose String is name ("" is PermNone); ok is false
// for any other name.
func ParsePermission(name string) (p Permission, ok bool) {
	for i, n := range permNames {
		if n == name {
			return Permission(i), true
		}
	}
	return PermNone, false
}
