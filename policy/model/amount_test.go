package model

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want Amount
		err  error
	}{
		{"0.000001", 1, nil},
		{"-1.50", -1_500_000, nil},
		{"25.50", 25_500_000, nil},
		{"0.0085", 8_500, nil},
		{"10", 10_000_000, nil},
		{"+3", 3_000_000, nil},
		{"0", 0, nil},
		{"9007199254.740991", MaxAmount, nil},
		{"-9007199254.740991", -MaxAmount, nil},
		{"9007199254.740992", 0, ErrAmountRange},
		{"9223372036854.775807", 0, ErrAmountRange},
		{"9223372036854775807", 0, ErrAmountRange},
		{"99999999999999999999999999999", 0, ErrAmountRange},
		{"1e3", 0, ErrAmountSyntax},
		{"0.0000001", 0, ErrAmountPrecision},
		{"1.0000000", 0, ErrAmountPrecision},
		{"abc", 0, ErrAmountSyntax},
		{"", 0, ErrAmountSyntax},
		{"-", 0, ErrAmountSyntax},
		{".5", 0, ErrAmountSyntax},
		{"5.", 0, ErrAmountSyntax},
		{"1.2.3", 0, ErrAmountSyntax},
		{" 1", 0, ErrAmountSyntax},
		{"0x10", 0, ErrAmountSyntax},
		{"--1", 0, ErrAmountSyntax},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestAmountString(t *testing.T) {
	cases := map[Amount]string{
		0: "0.00", 1: "0.000001", -1: "-0.000001", 25_500_000: "25.50", 8_500: "0.0085",
		125: "0.000125", 10_000_000: "10.00", -1_500_000: "-1.50", MaxAmount: "9007199254.740991",
	}
	for a, want := range cases {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(a), got, want)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	var v struct{ A Amount }
	if err := json.Unmarshal([]byte(`{"A": 0.1}`), &v); err != nil || v.A != 100_000 {
		t.Fatalf("0.1 read as %d, %v; want 100000", v.A, err)
	}
	if err := json.Unmarshal([]byte(`{"A": "0.000125"}`), &v); err != nil || v.A != 125 {
		t.Fatalf(`"0.000125" read as %d, %v`, v.A, err)
	}
	for _, bad := range []string{`{"A": 1e3}`, `{"A": "1e3"}`, `{"A": 0.0000001}`, `{"A": null}`, `{"A": true}`, `{"A": 1e400}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted as %d", bad, v.A)
		}
	}
	out, _ := json.Marshal(struct{ A Amount }{-1_500_000})
	if string(out) != `{"A":"-1.50"}` {
		t.Fatalf("marshal = %s", out)
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0.000001", "-1.50", "1e3", "0.0000001", "9007199254.740991", "abc", "", "+0.1", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		if a > MaxAmount || a < -MaxAmount {
			t.Fatalf("%q parsed out of range: %d", s, a)
		}
		// Round trip: the formatted value parses back to the same amount.
		b, err := ParseAmount(a.String())
		if err != nil || b != a {
			t.Fatalf("%q → %d → %q → %d, %v", s, a, a.String(), b, err)
		}
	})
}
