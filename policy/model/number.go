package model

// ValidNumber reports whether b is a phone number as the gateway keeps it (API.md §9): E.164,
// a '+' and 8 to 15 digits, the first not 0. It is the one rule of a number's shape: the
// operator's inventory, the number endpoints and the caller-ID check of the proxied routes
// all use it.
func ValidNumber(b []byte) bool {
	if len(b) < 9 || len(b) > 16 || b[0] != '+' || b[1] == '0' {
		return false
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
