package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of Run. Its JSON form (encoding/json) is the `--json` output; field
// names are stable. Latencies are in milliseconds, durations in seconds, money as the API's
// decimal strings.
type Report struct {
	Target        string   `json:"target"`               // gateway base URL
	Method        string   `json:"method"`               //
	Path          string   `json:"path"`                 // with the auth_id filled in
	AuthID        string   `json:"auth_id"`              // the account the load ran as
	Concurrency   int      `json:"concurrency"`          // workers = connections
	DurationLimit float64  `json:"duration_limit_s"`     // time bound per phase, 0: none
	RequestLimit  int64    `json:"request_limit"`        // count bound per phase, 0: none
	Seeded        *Seeded  `json:"seeded,omitempty"`     // the accounts Run created, if any
	Gateway       Phase    `json:"gateway"`              //
	Money         *Money   `json:"money,omitempty"`      // nil when the balance could not be read
	Bare          *Phase   `json:"bare,omitempty"`       // with Options.Bare
	BareRatio     *Ratio   `json:"bare_ratio,omitempty"` // gateway ÷ bare proxy, with Options.Bare
	Direct        *Phase   `json:"direct,omitempty"`     // with Options.Direct
	Ratio         *Ratio   `json:"ratio,omitempty"`      // gateway ÷ direct, with Options.Direct
	Rounds        []Round  `json:"rounds,omitempty"`     // each round, with Options.Rounds > 1 (the phases above combine them)
	Memory        *Memory  `json:"memory,omitempty"`     // Redis's memory taken by the seeded accounts, with Options.Redis
	Meters        []string `json:"meters,omitempty"`     // what each phase's CPU figures cover
	Notes         []string `json:"notes,omitempty"`      // anything the reader should know
}

// Memory is how much Redis's used_memory grew while the accounts were seeded.
type Memory struct {
	Before      int64   `json:"used_memory_before"`
	After       int64   `json:"used_memory_after"`
	Accounts    int     `json:"accounts"`          // main accounts + subaccounts created
	PerAccount  float64 `json:"bytes_per_account"` // (After − Before) ÷ Accounts
	Subaccounts int     `json:"subaccounts"`
}

// memoryUse is the growth of used_memory over the accounts seeded.
func memoryUse(before, after int64, mains, subs int) *Memory {
	n := mains + subs
	return &Memory{Before: before, After: after, Accounts: n, Subaccounts: subs, PerAccount: float64(after-before) / float64(n)}
}

// Phase is the measurement of one target.
type Phase struct {
	Name       string           `json:"name"`                  // "gateway" or "direct"
	URL        string           `json:"url"`                   // full request URL
	Requests   int64            `json:"requests"`              // completed: responses + errors
	Success    int64            `json:"success"`               // 2xx responses (admitted, for the gateway)
	Errors     int64            `json:"errors"`                // transport errors (no response)
	Duration   float64          `json:"duration_s"`            // wall time of the phase
	Throughput float64          `json:"throughput_rps"`        // Requests ÷ Duration
	Latency    Latency          `json:"latency_ms"`            // of responses, any status
	Status     map[int]int64    `json:"status"`                // responses by status code
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"` // timeout, dial, connection_closed, no_free_conns, other
	FirstError string           `json:"first_error,omitempty"` // an example
	Machine    *Machine         `json:"machine,omitempty"`     // the whole machine's CPU meanwhile (Linux)
	Processes  []ProcessCPU     `json:"processes,omitempty"`   // the metered processes' CPU meanwhile (Linux)
	Redis      *RedisUse        `json:"redis,omitempty"`       // Redis's CPU and script calls meanwhile, with Options.Redis
	Hist       *Histogram       `json:"-"`                     // all response latencies
	cpu        cpuTicks         // the machine's CPU time during the phase
	use        use              // the meters' counts during the phase
}

// Latency summarises a phase's latency histogram, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Ratio compares the gateway with the direct upstream; 0 when the direct figure is 0.
type Ratio struct {
	Throughput float64 `json:"throughput"` // gateway req/s ÷ direct req/s (higher is better)
	P99        float64 `json:"p99"`        // gateway p99 ÷ direct p99 (lower is better)
}

// Round is one gateway phase and the bare and direct phases after it, with Options.Rounds > 1.
type Round struct {
	Gateway        float64  `json:"gateway_rps"`
	Bare           float64  `json:"bare_rps,omitempty"`
	BareRatio      float64  `json:"bare_ratio,omitempty"` // Gateway ÷ Bare
	Direct         float64  `json:"direct_rps"`
	Ratio          float64  `json:"ratio"`                     // Gateway ÷ Direct
	GatewayMachine *Machine `json:"gateway_machine,omitempty"` // the machine's CPU in each phase (Linux)
	BareMachine    *Machine `json:"bare_machine,omitempty"`
	DirectMachine  *Machine `json:"direct_machine,omitempty"`
}

// Money is the check of what the gateway phase cost.
type Money struct {
	BillingAuthID   string `json:"billing_auth_id"`  // whose balance paid; "" when several did
	BillingAccounts int    `json:"billing_accounts"` // how many balances were summed
	Currency        string `json:"currency"`
	BalanceBefore   string `json:"balance_before"`
	BalanceAfter    string `json:"balance_after"`
	Charged         string `json:"charged"`        // before − after
	Admitted        int64  `json:"admitted"`       // 2xx responses of the gateway phase
	Price           string `json:"price"`          // given, or charged ÷ admitted ("" if nothing admitted)
	PriceInferred   bool   `json:"price_inferred"` // Price was inferred, not given
	Expected        string `json:"expected,omitempty"`
	Exact           *bool  `json:"exact,omitempty"` // charged == admitted × price, when the price was given
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// finish fills the derived figures.
func (p *Phase) finish(elapsed time.Duration) {
	p.Duration = elapsed.Seconds()
	if p.Duration > 0 {
		p.Throughput = float64(p.Requests) / p.Duration
	}
	h := p.Hist
	p.Latency = Latency{
		P50: ms(h.Percentile(50)), P90: ms(h.Percentile(90)), P99: ms(h.Percentile(99)),
		P999: ms(h.Percentile(99.9)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
	p.Machine = p.cpu.machine()
	p.Processes, p.Redis = p.use.figures(p.Requests)
}

// moneyCheck compares the balances read around the gateway phase with what was admitted.
func moneyCheck(before, after *balanceRead, admitted int64, price string) (*Money, string) {
	charged := before.Balance - after.Balance
	m := &Money{
		BillingAuthID: after.BillingAuthID, BillingAccounts: after.Accounts, Currency: after.Currency,
		BalanceBefore: before.Balance.String(), BalanceAfter: after.Balance.String(),
		Charged: charged.String(), Admitted: admitted,
	}
	var note string
	if before.BillingAuthID != after.BillingAuthID {
		note = "the billing account changed during the run: " + before.BillingAuthID + " → " + after.BillingAuthID
	}
	if price != "" {
		p, _ := parseMicros(price) // validated by setDefaults
		want := p * micros(admitted)
		exact := want == charged
		m.Price, m.Expected, m.Exact = p.String(), want.String(), &exact
		return m, note
	}
	m.PriceInferred = true
	if admitted > 0 {
		m.Price = (charged / micros(admitted)).String()
		if charged%micros(admitted) != 0 && note == "" {
			note = "charged is not a whole multiple of admitted: charges varied (settlement, refunds or other traffic)"
		}
	}
	return m, note
}

// WriteText writes the report for people: aligned columns, gateway and (if run) direct side by side.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway bench: %s %s%s as %s, concurrency %d, ", r.Method, r.Target, r.Path, r.AuthID, r.Concurrency)
	switch {
	case r.RequestLimit > 0 && r.DurationLimit > 0:
		fmt.Fprintf(&b, "%d requests or %s per phase\n", r.RequestLimit, secs(r.DurationLimit))
	case r.RequestLimit > 0:
		fmt.Fprintf(&b, "%d requests per phase\n", r.RequestLimit)
	default:
		fmt.Fprintf(&b, "%s per phase\n", secs(r.DurationLimit))
	}
	if s := r.Seeded; s != nil && s.Accounts > 1 {
		fmt.Fprintf(&b, "seeded in %s: %d main accounts (credited %s each) × %d subaccounts = %d load accounts, round robin (first %s under %s), rate_limit %d/s each\n",
			secs(s.Seconds), s.Tenants, s.Credited, s.Subs, s.Accounts, s.Sub.AuthID, s.Main.AuthID, s.RateLimit)
	} else if s != nil {
		fmt.Fprintf(&b, "seeded: main account %s (credited %s), subaccount %s, rate_limit %d/s each\n",
			s.Main.AuthID, s.Credited, s.Sub.AuthID, s.RateLimit)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "Redis used_memory %d → %d bytes: %.0f bytes per account seeded (%d accounts, %d of them subaccounts)\n",
			m.Before, m.After, m.PerAccount, m.Accounts, m.Subaccounts)
	}
	if len(r.Meters) > 0 {
		fmt.Fprintf(&b, "CPU metered: %s\n", strings.Join(r.Meters, ", "))
	}
	b.WriteString("\n")
	if r.Gateway.Name == "" { // --seed-only: no phases
		_, err := io.WriteString(w, b.String())
		return err
	}

	phases := []*Phase{&r.Gateway}
	if r.Bare != nil {
		phases = append(phases, r.Bare)
	}
	if r.Direct != nil {
		phases = append(phases, r.Direct)
	}
	row := func(label string, cell func(p *Phase) string) {
		fmt.Fprintf(&b, "  %-16s", label)
		for _, p := range phases {
			fmt.Fprintf(&b, " %16s", cell(p))
		}
		b.WriteString("\n")
	}
	row("", func(p *Phase) string { return p.Name })
	row("requests", func(p *Phase) string { return strconv.FormatInt(p.Requests, 10) })
	row("2xx", func(p *Phase) string { return strconv.FormatInt(p.Success, 10) })
	row("errors", func(p *Phase) string { return strconv.FormatInt(p.Errors, 10) })
	row("duration", func(p *Phase) string { return secs(p.Duration) })
	row("throughput", func(p *Phase) string { return strconv.FormatFloat(p.Throughput, 'f', 1, 64) + " req/s" })
	lat := []struct {
		label string
		v     func(l Latency) float64
	}{
		{"latency p50", func(l Latency) float64 { return l.P50 }},
		{"latency p90", func(l Latency) float64 { return l.P90 }},
		{"latency p99", func(l Latency) float64 { return l.P99 }},
		{"latency p99.9", func(l Latency) float64 { return l.P999 }},
		{"latency max", func(l Latency) float64 { return l.Max }},
		{"latency mean", func(l Latency) float64 { return l.Mean }},
	}
	for _, l := range lat {
		row(l.label, func(p *Phase) string { return strconv.FormatFloat(l.v(p.Latency), 'f', 3, 64) + " ms" })
	}
	var codes []int
	var kinds []string
	for _, p := range phases {
		for c := range p.Status {
			if !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
		}
		for k := range p.ErrorKinds {
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.Sort(codes)
	slices.Sort(kinds)
	for _, c := range codes {
		label := "status " + strconv.Itoa(c)
		if c == 0 {
			label = "status invalid"
		}
		row(label, func(p *Phase) string { return strconv.FormatInt(p.Status[c], 10) })
	}
	for _, k := range kinds {
		row("error "+k, func(p *Phase) string { return strconv.FormatInt(p.ErrorKinds[k], 10) })
	}
	if phases[0].Machine != nil {
		pct := func(v func(m *Machine) float64) func(p *Phase) string {
			return func(p *Phase) string {
				if p.Machine == nil {
					return "n/a"
				}
				return strconv.FormatFloat(v(p.Machine), 'f', 1, 64) + " %"
			}
		}
		row("machine idle", pct(func(m *Machine) float64 { return m.Idle }))
		row("machine steal", pct(func(m *Machine) float64 { return m.Steal }))
	}
	var procs []string
	for _, p := range phases {
		for _, pc := range p.Processes {
			if !slices.Contains(procs, pc.Name) {
				procs = append(procs, pc.Name)
			}
		}
	}
	us := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " µs" }
	for _, name := range procs {
		row("cpu/req "+name, func(p *Phase) string {
			for _, pc := range p.Processes {
				if pc.Name == name {
					return us(pc.PerRequest)
				}
			}
			return "n/a"
		})
	}
	if r.Gateway.Redis != nil {
		redis := func(v func(r *RedisUse) string) func(p *Phase) string {
			return func(p *Phase) string {
				if p.Redis == nil {
					return "n/a"
				}
				return v(p.Redis)
			}
		}
		row("cpu/req Redis", redis(func(r *RedisUse) string { return us(r.PerRequest) }))
		row("scripts/req", redis(func(r *RedisUse) string { return strconv.FormatFloat(r.ScriptsPerRequest, 'f', 3, 64) }))
		row("script µs/call", redis(func(r *RedisUse) string { return us(r.ScriptMicrosPerCall) }))
	}
	for _, p := range phases {
		if p.FirstError != "" {
			fmt.Fprintf(&b, "  first %s error: %s\n", p.Name, p.FirstError)
		}
	}
	if r.BareRatio != nil || r.Ratio != nil {
		b.WriteString("\n")
	}
	if r.BareRatio != nil {
		fmt.Fprintf(&b, "  gateway/bare     throughput %.3f×   p99 latency %.3f×\n", r.BareRatio.Throughput, r.BareRatio.P99)
	}
	if r.Ratio != nil {
		fmt.Fprintf(&b, "  gateway/direct   throughput %.3f×   p99 latency %.3f×\n", r.Ratio.Throughput, r.Ratio.P99)
	}
	if len(r.Rounds) > 0 {
		fmt.Fprintf(&b, "\n  %d rounds, alternating (the columns above combine them):\n", len(r.Rounds))
		for i, rd := range r.Rounds {
			fmt.Fprintf(&b, "  round %-3d  gateway %10.1f req/s", i+1, rd.Gateway)
			if r.Bare != nil {
				fmt.Fprintf(&b, "   bare %10.1f req/s   %.3f×", rd.Bare, rd.BareRatio)
			}
			if r.Direct != nil {
				fmt.Fprintf(&b, "   direct %10.1f req/s   %.3f×", rd.Direct, rd.Ratio)
			}
			steal := []string{}
			for _, m := range []*Machine{rd.GatewayMachine, rd.BareMachine, rd.DirectMachine} {
				if m != nil {
					steal = append(steal, strconv.FormatFloat(m.Steal, 'f', 1, 64)+" %")
				}
			}
			if len(steal) > 1 {
				fmt.Fprintf(&b, "   steal %s", strings.Join(steal, " / "))
			}
			b.WriteString("\n")
		}
	}

	if m := r.Money; m != nil {
		if m.BillingAccounts > 1 {
			fmt.Fprintf(&b, "\nmoney (summed over %d billing accounts, %s)\n", m.BillingAccounts, m.Currency)
		} else {
			fmt.Fprintf(&b, "\nmoney (billing account %s, %s)\n", m.BillingAuthID, m.Currency)
		}
		mrow := func(label, v string) { fmt.Fprintf(&b, "  %-16s %16s\n", label, v) }
		mrow("balance before", m.BalanceBefore)
		mrow("balance after", m.BalanceAfter)
		mrow("charged", m.Charged)
		mrow("admitted (2xx)", strconv.FormatInt(m.Admitted, 10))
		switch {
		case m.PriceInferred && m.Price == "":
			mrow("price", "n/a (nothing admitted)")
		case m.PriceInferred:
			fmt.Fprintf(&b, "  %-16s %16s  (inferred: charged ÷ admitted; pass --price to check)\n", "price", m.Price)
		default:
			mrow("price", m.Price)
			mrow("expected", m.Expected)
			verdict := "EXACT: charged = admitted × price"
			if m.Exact != nil && !*m.Exact {
				verdict = "MISMATCH: charged ≠ admitted × price"
			}
			fmt.Fprintf(&b, "  %-16s %s\n", "check", verdict)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + "s" }
