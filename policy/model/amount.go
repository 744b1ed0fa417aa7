package model

import (
	"errors"
	"strconv"
)

// Amount is an amount of money in micro-units (1/1,000,000 of the currency unit).
// It is an exact integer: money never passes through a float anywhere in the gateway.
type Amount int64

// MicrosPerUnit is the number of micro-units in one currency unit.
const MicrosPerUnit = 1_000_000

// MaxAmount bounds every amount and every balance the store holds: 2^53-1 micro-units
// (9,007,199,254.740991 units). Lua numbers in Redis scripts are doubles, which are exact
// up to this bound, so staying inside it keeps every comparison in a script exact.
const MaxAmount Amount = 1<<53 - 1

// Errors returned by ParseAmount. Callers map them to 400 INVALID_REQUEST.
var (
	ErrAmountSyntax    = errors.New("not a decimal amount")
	ErrAmountPrecision = errors.New("more than 6 fraction digits")
	ErrAmountRange     = errors.New("amount out of range")
)

// ParseAmount reads a decimal string such as "25.50", "-1.5", "0.000125" or "10" into
// micro-units exactly. It accepts an optional leading sign, digits, and at most one '.'
// followed by at most 6 digits. Exponents ("1e3"), spaces, "+"/"-" alone, hex and
// anything else are rejected, as is any value whose magnitude exceeds MaxAmount.
func ParseAmount(s string) (Amount, error) {
	return parseAmount([]byte(s))
}

// ParseAmountBytes is ParseAmount for a byte slice; it does not retain b.
func ParseAmountBytes(b []byte) (Amount, error) { return parseAmount(b) }

func parseAmount(b []byte) (Amount, error) {
	if len(b) == 0 || len(b) > 40 {
		if len(b) > 40 {
			return 0, ErrAmountRange
		}
		return 0, ErrAmountSyntax
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	var v uint64
	intDigits, fracDigits := 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if seenDot {
				fracDigits++
				if fracDigits > 6 {
					// Trailing zeros beyond 6 digits are still more precision than we keep;
					// reject them so that "0.0000000" is not silently accepted.
					return 0, ErrAmountPrecision
				}
			} else {
				intDigits++
			}
			v = v*10 + uint64(c-'0')
			if v > uint64(MaxAmount) { // already too large before scaling; also keeps v*10 from overflowing
				return 0, ErrAmountRange
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return 0, ErrAmountSyntax
		}
	}
	if intDigits == 0 || (seenDot && fracDigits == 0) {
		return 0, ErrAmountSyntax
	}
	for f := fracDigits; f < 6; f++ {
		if v > uint64(MaxAmount) {
			return 0, ErrAmountRange
		}
		v *= 10
	}
	if v > uint64(MaxAmount) {
		return 0, ErrAmountRange
	}
	if neg {
		return -Amount(v), nil
	}
	return Amount(v), nil
}

// String formats a as a decimal with at least 2 and at most 6 fraction digits, without
// trailing zeros beyond the second: 25500000 → "25.50", 8500 → "0.0085", -1 → "-0.000001".
func (a Amount) String() string {
	var buf [32]byte
	return string(a.AppendTo(buf[:0]))
}

// AppendTo appends the String form of a to dst and returns it; it allocates only if dst is
// too small, so hot paths can format into a reused buffer.
func (a Amount) AppendTo(dst []byte) []byte {
	u := uint64(a)
	if a < 0 {
		dst = append(dst, '-')
		u = uint64(-a)
	}
	dst = strconv.AppendUint(dst, u/MicrosPerUnit, 10)
	frac := u % MicrosPerUnit
	var f [6]byte
	for i := 5; i >= 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for n > 2 && f[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, f[:n]...)
}

// MarshalJSON writes the amount as a JSON string, e.g. "25.50".
func (a Amount) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = a.AppendTo(b)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a JSON string ("25.50") or a JSON number (25.5, 0.1) and reads it
// exactly, never through a float. null is rejected: an amount is never optional here.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := parseAmount(b)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
