package bench

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
)

// Machine is what the whole machine's CPU did during a phase, in per cent of its CPU time
// (all cores): busy (user, nice, system, irq, softirq), idle (idle, iowait) and steal (time a
// virtual machine's CPUs were runnable but the host ran something else). Read from
// /proc/stat, so on Linux only. Steal is one reason a shared virtual machine's figures
// drift: a phase with much of it measured a slower machine, and a ratio whose two sides saw
// different steal compares different machines.
type Machine struct {
	Busy  float64 `json:"busy_pct"`
	Idle  float64 `json:"idle_pct"`
	Steal float64 `json:"steal_pct"`
}

// cpuTicks is the machine's CPU time by kind since boot (or, as a difference, during a
// phase), in the kernel's ticks; ok is false when it could not be read.
type cpuTicks struct {
	busy, idle, steal uint64
	ok                bool
}

// procStat is where readCPUTicks reads.
const procStat = "/proc/stat"

// readTicks is how a phase reads the machine's CPU time (a variable for tests).
var readTicks = readCPUTicks

// readCPUTicks reads the machine's CPU time; ok is false where there is no /proc/stat.
func readCPUTicks() cpuTicks {
	f, err := os.Open(procStat)
	if err != nil {
		return cpuTicks{}
	}
	defer f.Close()
	t, err := parseCPUTicks(f)
	if err != nil {
		return cpuTicks{}
	}
	return t
}

// parseCPUTicks reads the "cpu" line of /proc/stat: user nice system idle iowait irq softirq
// steal … (guest time is already in user).
func parseCPUTicks(r io.Reader) (cpuTicks, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 9 {
			return cpuTicks{}, errors.New("/proc/stat: cpu line too short")
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTicks{}, errors.New("/proc/stat: cpu line: " + err.Error())
			}
			v[i] = n
		}
		return cpuTicks{busy: v[0] + v[1] + v[2] + v[5] + v[6], idle: v[3] + v[4], steal: v[7], ok: true}, nil
	}
	if err := sc.Err(); err != nil {
		return cpuTicks{}, err
	}
	return cpuTicks{}, errors.New("/proc/stat: no cpu line")
}

// since is the CPU time from earlier to t; not ok when either is unknown or a counter went
// backwards.
func (t cpuTicks) since(earlier cpuTicks) cpuTicks {
	if !t.ok || !earlier.ok || t.busy < earlier.busy || t.idle < earlier.idle || t.steal < earlier.steal {
		return cpuTicks{}
	}
	return cpuTicks{busy: t.busy - earlier.busy, idle: t.idle - earlier.idle, steal: t.steal - earlier.steal, ok: true}
}

// plus adds two differences; not ok unless both are.
func (t cpuTicks) plus(u cpuTicks) cpuTicks {
	if !t.ok || !u.ok {
		return cpuTicks{}
	}
	return cpuTicks{busy: t.busy + u.busy, idle: t.idle + u.idle, steal: t.steal + u.steal, ok: true}
}

// machine is the difference t as shares; nil when unknown or empty.
func (t cpuTicks) machine() *Machine {
	total := t.busy + t.idle + t.steal
	if !t.ok || total == 0 {
		return nil
	}
	pct := func(n uint64) float64 { return 100 * float64(n) / float64(total) }
	return &Machine{Busy: pct(t.busy), Idle: pct(t.idle), Steal: pct(t.steal)}
}
