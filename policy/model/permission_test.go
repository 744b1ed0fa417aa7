package model

import "testing"

func TestPermissionNames(t *testing.T) {
	for p, want := range map[Permission]string{PermNone: "", PermCalls: "calls", PermSMS: "sms", PermCDR: "cdr", PermSub: "subaccounts"} {
		if got := p.String(); got != want || !p.Valid() {
			t.Errorf("%d: String() = %q, Valid() = %v; want %q, true", p, got, p.Valid(), want)
		}
		if back, ok := ParsePermission(want); !ok || back != p {
			t.Errorf("ParsePermission(%q) = %d, %v; want %d", want, back, ok, p)
		}
	}
	for _, name := range []string{"fax", "Calls", "call", " calls", "subaccount"} {
		if p, ok := ParsePermission(name); ok {
			t.Errorf("ParsePermission(%q) = %d", name, p)
		}
	}
	if p := permCount; p.Valid() || p.String() != "" {
		t.Errorf("permCount: Valid %v, String %q", p.Valid(), p.String())
	}
}
