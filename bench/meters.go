package bench

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// meters read, around each phase, the CPU time of the processes the bench was told of or
// found (the gateway, the bare proxy) and, with Options.Redis, what Redis says of itself.
type meters struct {
	procs []meteredProc
	redis *redis.Client // nil: no Redis figures
}

type meteredProc struct {
	name string // "gateway" or "bare proxy"
	pid  int
}

// reading is one reading of every meter.
type reading struct {
	procs []float64 // CPU seconds of each of meters.procs; < 0 when unreadable
	redis redisSample
}

func (m *meters) read(ctx context.Context) reading {
	if m == nil {
		return reading{}
	}
	r := reading{procs: make([]float64, len(m.procs))}
	for i, p := range m.procs {
		s, ok := procCPU(p.pid)
		if !ok {
			s = -1
		}
		r.procs[i] = s
	}
	if m.redis != nil {
		r.redis = redisInfo(ctx, m.redis)
	}
	return r
}

// use is what the meters counted during a phase (or several, added up).
type use struct {
	procs []procUse
	redis redisSample // differences; memory is not added up
}

type procUse struct {
	name    string
	pid     int
	seconds float64
	ok      bool
}

// since is the difference r − earlier for the processes of m.
func (r reading) since(earlier reading, m *meters) use {
	if m == nil {
		return use{}
	}
	u := use{procs: make([]procUse, len(m.procs))}
	for i, p := range m.procs {
		ok := r.procs[i] >= 0 && earlier.procs[i] >= 0 && r.procs[i] >= earlier.procs[i]
		u.procs[i] = procUse{name: p.name, pid: p.pid, seconds: r.procs[i] - earlier.procs[i], ok: ok}
	}
	if r.redis.ok && earlier.redis.ok {
		u.redis = redisSample{cpu: r.redis.cpu - earlier.redis.cpu, scriptCalls: r.redis.scriptCalls - earlier.redis.scriptCalls,
			scriptMicros: r.redis.scriptMicros - earlier.redis.scriptMicros, ok: true}
	}
	return u
}

// plus adds two phases' use (of the same meters).
func (u use) plus(v use) use {
	if u.procs == nil && !u.redis.ok {
		return v
	}
	out := use{procs: make([]procUse, len(u.procs))}
	for i, p := range u.procs {
		q := v.procs[i]
		out.procs[i] = procUse{name: p.name, pid: p.pid, seconds: p.seconds + q.seconds, ok: p.ok && q.ok}
	}
	if u.redis.ok && v.redis.ok {
		out.redis = redisSample{cpu: u.redis.cpu + v.redis.cpu, scriptCalls: u.redis.scriptCalls + v.redis.scriptCalls,
			scriptMicros: u.redis.scriptMicros + v.redis.scriptMicros, ok: true}
	}
	return out
}

// ProcessCPU is the CPU time a process used during a phase.
type ProcessCPU struct {
	Name       string  `json:"name"` // "gateway" or "bare proxy"
	PID        int     `json:"pid"`
	Seconds    float64 `json:"cpu_s"`
	PerRequest float64 `json:"us_per_request"` // µs of CPU per completed request of the phase
}

// RedisUse is what Redis reported of itself during a phase (INFO cpu and commandstats).
type RedisUse struct {
	Seconds             float64 `json:"cpu_s"`
	PerRequest          float64 `json:"us_per_request"`           // Redis CPU µs per completed request
	ScriptCalls         int64   `json:"script_calls"`             // EVALSHA + EVAL calls (admits are batched: several per call)
	ScriptsPerRequest   float64 `json:"script_calls_per_request"` //
	ScriptMicrosPerCall float64 `json:"script_us_per_call"`       // Redis's own time per script call
}

// figures turns u into the report's per-request figures for a phase of requests.
func (u use) figures(requests int64) ([]ProcessCPU, *RedisUse) {
	per := func(s float64) float64 {
		if requests == 0 {
			return 0
		}
		return s * 1e6 / float64(requests)
	}
	var procs []ProcessCPU
	for _, p := range u.procs {
		if p.ok {
			procs = append(procs, ProcessCPU{Name: p.name, PID: p.pid, Seconds: p.seconds, PerRequest: per(p.seconds)})
		}
	}
	if !u.redis.ok {
		return procs, nil
	}
	r := &RedisUse{Seconds: u.redis.cpu, PerRequest: per(u.redis.cpu), ScriptCalls: u.redis.scriptCalls}
	if requests > 0 {
		r.ScriptsPerRequest = float64(u.redis.scriptCalls) / float64(requests)
	}
	if u.redis.scriptCalls > 0 {
		r.ScriptMicrosPerCall = float64(u.redis.scriptMicros) / float64(u.redis.scriptCalls)
	}
	return procs, r
}

// names says what the meters read, for the report: "gateway process 1234", "Redis (INFO)".
func (m *meters) names() []string {
	var out []string
	for _, p := range m.procs {
		out = append(out, p.name+" process "+strconv.Itoa(p.pid))
	}
	if m.redis != nil {
		out = append(out, "Redis (INFO) at "+m.redis.Options().Addr)
	}
	return out
}
