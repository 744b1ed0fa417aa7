package model

import (
	"errors"
	"strconv"
	"strings"
)

// Tariff is the price of a call by its duration (API.md §8): a per-minute Rate, billed in
// blocks of First seconds and then of Next seconds (the route's increment "First/Next"),
// plus a ConnectFee for an answered call. Its two functions, Cost and Longest, are written
// once here and once in Lua (balance/lua/tariff.lua), and tests hold them to the same
// answers and to a brute-force reference.
//
// A valid tariff (config checks it) has First and Next in 1..MaxIncrement, Rate and
// ConnectFee in 0..MaxAmount, and is used only for durations it Covers: every number the
// functions form is then an exact integer in a double too (Lua's numbers).
type Tariff struct {
	Rate       Amount // per minute, µ
	First      int64  // seconds of the first billed block
	Next       int64  // seconds of each later block
	ConnectFee Amount // µ, charged once for an answered call
}

// MaxIncrement bounds both parts of an increment, in seconds (one hour).
const MaxIncrement = 3600

// ErrIncrement is what ParseIncrement answers for anything but "i/f".
var ErrIncrement = errors.New(`not an increment such as "60/60" or "6/6" (first block/each later block, seconds 1 to 3600)`)

// ParseIncrement reads an increment "i/f": the first billed block and each later block, in
// whole seconds from 1 to MaxIncrement.
func ParseIncrement(s string) (first, next int64, err error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, ErrIncrement
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	next, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 1 || next < 1 || first > MaxIncrement || next > MaxIncrement {
		return 0, 0, ErrIncrement
	}
	return first, next, nil
}

// Covers reports whether the cost of d seconds is computed exactly, in Go and in Lua:
// Rate × Billed(d) + 59 and ConnectFee + Cost(d) stay within MaxAmount (2^53 − 1).
func (t Tariff) Covers(d int64) bool {
	b := t.Billed(d)
	if t.Rate < 0 || t.ConnectFee < 0 || t.ConnectFee > MaxAmount || b > int64(MaxAmount) {
		return false
	}
	if t.Rate > 0 && b > (int64(MaxAmount)-59)/int64(t.Rate) {
		return false
	}
	return t.ConnectFee+Amount((int64(t.Rate)*b+59)/60) <= MaxAmount
}

// Billed is the number of seconds a call of d seconds is billed: 0 for d <= 0 (never
// answered), First for d <= First, else First plus d - First rounded up to whole Next blocks.
func (t Tariff) Billed(d int64) int64 {
	if d <= 0 {
		return 0
	}
	if d <= t.First {
		return t.First
	}
	return t.First + (d-t.First+t.Next-1)/t.Next*t.Next
}

// Cost is what a call of d seconds costs: 0 when d <= 0, else ConnectFee + ceil(Rate ×
// Billed(d) / 60) µ (rounded up once per call).
func (t Tariff) Cost(d int64) Amount {
	b := t.Billed(d)
	if b == 0 {
		return 0
	}
	x := int64(t.Rate) * b
	return t.ConnectFee + Amount((x+59)/60)
}

// Longest is the longest duration, at most limit seconds, that a budget of budget µ pays
// for: limit itself when Cost(limit) fits, else the largest billed duration (First, or
// First plus whole Next blocks) whose cost fits, or 0 when not even the first block does.
// limit > 0; the answer is at most limit.
func (t Tariff) Longest(budget Amount, limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	if t.Cost(limit) <= budget {
		return limit
	}
	// Cost(b) <= budget ⇔ Rate·b <= 60·(budget − ConnectFee); here Rate > 0, since Cost(limit)
	// exceeds the budget, and 60·(budget − ConnectFee) < Rate·limit, an exact product.
	room := budget - t.ConnectFee
	if room < 0 {
		return 0
	}
	top := 60 * int64(room) / int64(t.Rate) // the most seconds the room pays for
	if top < t.First {
		return 0
	}
	return t.First + (top-t.First)/t.Next*t.Next
}
