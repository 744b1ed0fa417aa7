package bench

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// micros is an amount of money in integer micro-units (1e-6 of the currency unit), as the
// gateway keeps it. The bench parses the API's decimal strings into it and never uses floats
// for money.
type micros int64

// parseMicros reads an API amount: an optional sign, digits, and at most 6 fraction digits.
func parseMicros(s string) (micros, error) {
	s = strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 6 || !digits(whole) || !digits(frac) {
		return 0, errors.New("not an amount with at most 6 fraction digits: " + strconv.Quote(s))
	}
	if len(whole) > 12 {
		return 0, errors.New("amount too large: " + strconv.Quote(s))
	}
	var v int64
	for _, c := range whole {
		v = v*10 + int64(c-'0')
	}
	frac += strings.Repeat("0", 6-len(frac))
	for _, c := range frac {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return micros(v), nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String formats the exact value with at least 2 fraction digits, as the API does.
func (m micros) String() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	frac := strconv.FormatInt(v%1_000_000+1_000_000, 10)[1:]
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatInt(v/1_000_000, 10) + "." + frac
}

// jsonAmount reads an amount that the API may send as a string or a JSON number.
func jsonAmount(raw json.RawMessage) (micros, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return parseMicros(s)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("amount is neither a string nor a number: " + string(raw))
	}
	return parseMicros(n.String())
}
