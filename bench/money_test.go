package bench

import (
	"encoding/json"
	"testing"
)

func TestMicros(t *testing.T) {
	for _, c := range []struct {
		in   string
		want micros
		out  string
	}{
		{"0", 0, "0.00"}, {"0.01", 10000, "0.01"}, {"25.50", 25500000, "25.50"},
		{"0.000125", 125, "0.000125"}, {"-1.5", -1500000, "-1.50"}, {"1000000.00", 1e12, "1000000.00"},
		{".5", 500000, "0.50"}, {"3.", 3000000, "3.00"}, {"+2", 2000000, "2.00"},
	} {
		got, err := parseMicros(c.in)
		if err != nil || got != c.want || got.String() != c.out {
			t.Errorf("parseMicros(%q) = %d (%s), %v; want %d (%s)", c.in, got, got, err, c.want, c.out)
		}
	}
	for _, bad := range []string{"", ".", "abc", "1.0000001", "1e3", "--1", "1.2.3", "9999999999999"} {
		if _, err := parseMicros(bad); err == nil {
			t.Errorf("parseMicros(%q) accepted", bad)
		}
	}
	for raw, want := range map[string]micros{`"12.34"`: 12340000, `12.34`: 12340000, `7`: 7000000} {
		if got, err := jsonAmount(json.RawMessage(raw)); err != nil || got != want {
			t.Errorf("jsonAmount(%s) = %d, %v; want %d", raw, got, err, want)
		}
	}
	if _, err := jsonAmount(json.RawMessage(`null`)); err == nil {
		t.Error("jsonAmount(null) accepted")
	}
}
