package balance_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy/wire"
)

// TestAdmitLuaCodes pins the codes the admit script answers to the refusal table
// (wire.Refusals, keyed by balance.Reason): admit.lua declares, at its top, ADMITTED = 0 and
// one constant per row r of the table, named after the row's code and equal to r, and no
// other; the table has a row for every code the store decodes; and the script answers by
// these names, never by a bare number. A new refusal is then one row and one Lua constant
// (and its balance.Reason), and a mismatch fails here rather than in production.
func TestAdmitLuaCodes(t *testing.T) {
	src := balance.AdmitScriptBody()
	decl := regexp.MustCompile(`(?m)^local ([A-Z][A-Z_]*) = (\d+)\b`)
	consts := map[string]int{}
	for _, m := range decl.FindAllStringSubmatch(src, -1) {
		n, _ := strconv.Atoi(m[2])
		if _, dup := consts[m[1]]; dup {
			t.Errorf("admit.lua declares %s twice", m[1])
		}
		consts[m[1]] = n
	}
	if n, ok := consts["ADMITTED"]; !ok || n != int(balance.Admitted) {
		t.Errorf("admit.lua: ADMITTED = %d (declared %v), want %d", n, ok, balance.Admitted)
	}
	delete(consts, "ADMITTED")
	if len(wire.Refusals) != int(balance.ReasonCount) {
		t.Errorf("the refusal table has %d rows, the store decodes codes 0..%d", len(wire.Refusals), balance.ReasonCount-1)
	}
	for r := 1; r < len(wire.Refusals); r++ {
		row := &wire.Refusals[r]
		name := strings.ToUpper(row.Label)
		n, ok := consts[name]
		switch {
		case !ok:
			t.Errorf("row %d (%s) has no constant in admit.lua", r, name)
		case n != r:
			t.Errorf("admit.lua: %s = %d, the table's row is %d", name, n, r)
		}
		delete(consts, name)
	}
	for name, n := range consts {
		t.Errorf("admit.lua declares %s = %d, which is no row of the refusal table", name, n)
	}
	// Answers name their code: refused(CODE, …), answer(ADMITTED, …), code = CODE.
	bare := regexp.MustCompile(`\b(refused|answer)\(\d|\bcode\b[^=\n]*=\s*\d`)
	if m := bare.FindAllString(src, -1); len(m) > 0 {
		t.Errorf("admit.lua answers bare codes: %q", m)
	}
}
