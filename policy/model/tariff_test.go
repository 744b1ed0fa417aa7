package model

import (
	"math/rand/v2"
	"testing"
)

// The increments the contract names, and tariffs built on them.
var testIncrements = [][2]int64{{1, 1}, {6, 6}, {30, 6}, {60, 1}, {60, 60}}

// refBilled and refCost are the brute-force reference: bill the first block, then add
// whole later blocks one at a time until the duration is covered.
func refBilled(first, next, d int64) int64 {
	if d <= 0 {
		return 0
	}
	b := first
	for b < d {
		b += next
	}
	return b
}

func refCost(t Tariff, d int64) Amount {
	b := refBilled(t.First, t.Next, d)
	if b == 0 {
		return 0
	}
	// ceil(rate·b/60) by counting: the least c with 60·c >= rate·b
	x := int64(t.Rate) * b
	c := x / 60
	for 60*c < x {
		c++
	}
	for c > 0 && 60*(c-1) >= x {
		c--
	}
	return t.ConnectFee + Amount(c)
}

// refLongest tries every duration from limit down and answers the first that fits and is
// either limit itself or a billed duration.
func refLongest(t Tariff, budget Amount, limit int64) int64 {
	for d := limit; d > 0; d-- {
		if refCost(t, d) > budget {
			continue
		}
		if d == limit || refBilled(t.First, t.Next, d) == d {
			return d
		}
	}
	return 0
}

// TestTariffAgainstReference holds Cost and Longest to the brute-force reference at the
// boundaries 0, 1, i, i+1, i+f and around them, and at random durations and budgets.
func TestTariffAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, inc := range testIncrements {
		for _, rate := range []Amount{0, 1, 7, 59, 60, 61, 12_000, 999_999, 1_000_000} {
			for _, fee := range []Amount{0, 1, 5_000} {
				tf := Tariff{Rate: rate, First: inc[0], Next: inc[1], ConnectFee: fee}
				i, f := inc[0], inc[1]
				ds := []int64{-1, 0, 1, 2, i - 1, i, i + 1, i + f - 1, i + f, i + f + 1, i + 2*f, 3600}
				for n := 0; n < 30; n++ {
					ds = append(ds, rng.Int64N(4000))
				}
				for _, d := range ds {
					if got, want := tf.Cost(d), refCost(tf, d); got != want {
						t.Fatalf("%+v Cost(%d) = %d, want %d", tf, d, got, want)
					}
					if got, want := tf.Billed(d), refBilled(i, f, d); got != want {
						t.Fatalf("%+v Billed(%d) = %d, want %d", tf, d, got, want)
					}
				}
				for n := 0; n < 40; n++ {
					limit := 1 + rng.Int64N(700)
					budget := Amount(rng.Int64N(int64(tf.Cost(limit)) + 2))
					if n < len(ds) && ds[n] > 0 { // budgets exactly at the cost of a boundary
						budget = tf.Cost(ds[n])
						if n%2 == 1 {
							budget--
						}
					}
					if got, want := tf.Longest(budget, limit), refLongest(tf, budget, limit); got != want {
						t.Fatalf("%+v Longest(%d, %d) = %d, want %d", tf, budget, limit, got, want)
					}
				}
			}
		}
	}
}

func TestParseIncrement(t *testing.T) {
	for _, ok := range []string{"1/1", "6/6", "30/6", "60/1", "60/60", "3600/3600"} {
		if _, _, err := ParseIncrement(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "60", "60/", "/60", "0/1", "1/0", "-1/1", "3601/1", "1/3601", "a/b", "6/6/6", " 6/6"} {
		if _, _, err := ParseIncrement(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTariffCovers(t *testing.T) {
	tf := Tariff{Rate: 625_000_000_000, First: 60, Next: 60}
	if !tf.Covers(14_400) || tf.Covers(14_460) {
		t.Fatalf("Covers(14400) %v, Covers(14460) %v", tf.Covers(14_400), tf.Covers(14_460))
	}
	if (Tariff{Rate: 1, First: 1, Next: 1, ConnectFee: MaxAmount}).Covers(1) {
		t.Fatal("a fee of MaxAmount plus a cost is covered")
	}
}
