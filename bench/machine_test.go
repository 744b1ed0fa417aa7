package bench

import (
	"strings"
	"testing"
)

func TestParseCPUTicks(t *testing.T) {
	stat := "cpu  100 5 30 800 20 3 2 40 7 0\ncpu0 50 2 15 400 10 1 1 20 3 0\nintr 12345\n"
	got, err := parseCPUTicks(strings.NewReader(stat))
	if want := (cpuTicks{busy: 100 + 5 + 30 + 3 + 2, idle: 800 + 20, steal: 40, ok: true}); err != nil || got != want {
		t.Errorf("parse: %+v %v, want %+v", got, err, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3 4 5 6 7\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if got, err := parseCPUTicks(strings.NewReader(bad)); err == nil || got.ok {
			t.Errorf("%q: %+v, want an error", bad, got)
		}
	}
}

func TestCPUTicksShares(t *testing.T) {
	a := cpuTicks{busy: 100, idle: 50, steal: 10, ok: true}
	b := cpuTicks{busy: 160, idle: 80, steal: 20, ok: true}
	d := b.since(a) // 60 busy, 30 idle, 10 steal
	if m := d.machine(); m == nil || m.Busy != 60 || m.Idle != 30 || m.Steal != 10 {
		t.Errorf("shares %+v, want 60/30/10", m)
	}
	if m := d.plus(d).machine(); m == nil || m.Busy != 60 || m.Steal != 10 {
		t.Errorf("two phases alike: %+v, want the same shares", m)
	}
	for name, x := range map[string]cpuTicks{
		"unknown start":       b.since(cpuTicks{}),
		"unknown end":         cpuTicks{}.since(a),
		"counter went back":   a.since(b),
		"no time passed":      a.since(a),
		"one phase not known": d.plus(cpuTicks{}),
	} {
		if m := x.machine(); m != nil {
			t.Errorf("%s: %+v, want no figure", name, m)
		}
	}
	if got := readCPUTicks(); got.ok && got.busy+got.idle+got.steal == 0 {
		t.Errorf("this machine's /proc/stat read as %+v", got)
	}
}
