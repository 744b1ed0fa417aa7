package model

import "testing"

func TestValidNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"+14155550100": true, "+12345678": true, "+123456789012345": true,
		"+1234567": false, "+1234567890123456": false, "14155550100": false, "+04155550100": false,
		"+1415555010a": false, "": false, "+": false, " +14155550100": false, "++14155550100": false,
	} {
		if got := ValidNumber([]byte(s)); got != want {
			t.Errorf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	}
}
