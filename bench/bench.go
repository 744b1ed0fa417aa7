// Package bench is the load generator behind `gateway bench`, and the measuring instrument the
// project's performance targets are stated in.
//
// Contract:
//   - Accounts. Unless credentials are given (Options.AuthID/AuthToken), Run seeds them: through
//     the operator API (Bearer token) it creates Options.Tenants main accounts named "bench"
//     with Options.RateLimit, crediting each Options.Credit, then through the public API (HTTP
//     Basic as each main account) Options.Subs subaccounts "bench-sub" under each, with the same
//     rate limit; Options.SeedConcurrency calls at a time, a progress line a second. Each
//     subaccount is given a phone number of its own (the operator adds a random +999… number
//     to the main account, which moves it to the subaccount), which replaces NumberPlaceholder
//     in its requests' body — the caller-ID number of a route with caller_id; given
//     credentials use the account's first number (none: an error). The load
//     runs as the subaccounts (X-Auth-ID/X-Auth-Token headers), each on its own path, so every
//     request gets full enforcement: two rate limits in the chain, permission and KYC checks, a
//     debit. Seeded accounts are left in place, so the money can be inspected afterwards.
//     With Options.SeedOnly Run stops after seeding.
//   - Load. Options.Concurrency workers share one fasthttp.HostClient (at most one connection
//     each, explicit timeouts) and send the same request back to back, the k-th request of a
//     phase (counted over all workers) as load account k mod accounts — round robin, so each
//     account gets within one request of the others — until Options.Duration has passed or
//     Options.Requests have been sent, whichever comes first, or ctx is cancelled (no new
//     request is sent; those in flight finish within Options.Timeout). Each worker keeps its
//     own latency Histogram (µs resolution, <1% error) and counts by status code; transport
//     errors are counted by kind and have no latency.
//   - Money. The balances of the billing accounts (each seeded main account, or the given
//     account's billing account; GET /v1/Account/{auth_id}/Balance/) are read and summed before
//     and after the gateway phases; charged = before − after. A call route's calls move
//     money again when they end: each read waits (at most HoldWait) until the billing
//     accounts hold nothing, and a note says what is still held after that. With Options.Price it is checked
//     against admitted (2xx) × price to the micro-unit; without, the price is inferred as
//     charged ÷ admitted. With given credentials, other traffic on the same billing account
//     disturbs this figure.
//   - Bare and direct. With Options.Bare (a bare proxy, `gateway bench proxy`, forwarding to the
//     upstream) and Options.Direct (the upstream itself), the same requests go to each in a
//     phase of its own, after the gateway phase and its balance read, and the Report carries
//     the ratios gateway/bare and gateway/direct of throughput and of p99 latency.
//   - Machine. On Linux each phase (and each round) also carries what the whole machine's CPU
//     did meanwhile, from /proc/stat: busy, idle and steal, in per cent. On a shared virtual
//     machine steal is one drift that moves every figure (not the only one); a round whose
//     two phases saw very different steal compared two different machines.
//   - Processes and Redis. On Linux each phase carries the CPU time per completed request of
//     the gateway's and the bare proxy's processes (/proc/PID/stat; the processes given by pid
//     or found listening on the target's and the bare proxy's ports on this machine), and with
//     Options.Redis what Redis says of itself: its CPU per request (INFO cpu, user + sys) and
//     its script calls (INFO commandstats, EVALSHA + EVAL: mostly the batched admit) per request
//     and their µs per call. Redis's used_memory is read around seeding too (Report.Memory).
//     These figures are Redis's and the processes' whole use, whoever caused it.
//
// Nothing in the package is timing-sensitive in tests: it measures, it does not assert speed.
// Run may be called from several goroutines with different Options; a Report is a plain value.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/config"
)

// Defaults of Options (and of the command's flags).
const (
	DefaultTarget      = "http://127.0.0.1" + config.DefaultListen // a gateway started with no configuration
	DefaultOperator    = "http://" + config.DefaultOperatorListen
	DefaultPath        = "/v1/Account/{auth_id}/Call/"
	DefaultMethod      = "POST"
	DefaultBody        = `{"from":"` + NumberPlaceholder + `","to":"+14155550123","answer_url":"https://example.com/answer","answer_method":"POST"}`
	DefaultConcurrency = 64
	DefaultDuration    = 10 * time.Second
	DefaultRateLimit   = 1000000
	DefaultCredit      = "1000000.00"
	DefaultTimeout     = 10 * time.Second

	DefaultSeedConcurrency = 16

	// NumberPlaceholder in a request body is replaced by the load account's phone number: the
	// caller-ID number a route with caller_id needs the path account to own (API.md §9).
	NumberPlaceholder = "{number}"
	// HoldWait bounds how long Run waits, after the last gateway phase, for the calls a call
	// route opened to end (the billing accounts' held back to zero) before it reads the money.
	HoldWait = time.Minute
)

// Options describe one bench run. Zero fields take the Default… values above, except Body
// (nil or empty sends no body), Requests (0: no count bound), Price (empty: inferred),
// Direct (empty: no direct phase) and Progress (nil: silent). If both Duration and Requests
// are zero, Duration is DefaultDuration.
type Options struct {
	Target        string        // gateway public base URL
	Operator      string        // gateway operator base URL, used only to seed
	OperatorToken string        // Bearer token of the operator API, needed only to seed
	AuthID        string        // given credentials: no seeding when both are set
	AuthToken     string        //
	Path          string        // request path; "{auth_id}" is replaced by the load account
	Method        string        // request method
	Body          []byte        // request body, sent as application/json; NumberPlaceholder is replaced by the load account's number
	Concurrency   int           // workers = connections
	Duration      time.Duration // time bound of each phase; 0 with Requests > 0: none
	Requests      int64         // count bound of each phase; 0: none
	Timeout       time.Duration // per request: connect wait, write and read each
	RateLimit     int           // rate_limit (req/s) of both seeded accounts
	Credit        string        // amount credited to the seeded main account
	Price         string        // expected price per admitted request; "" infers it
	Direct        string        // upstream base URL to drive directly after the gateway
	// Rounds alternates the two phases this many times (gateway, direct, gateway, …; each
	// phase bounded by Duration / Requests) and reports them combined, with each round's
	// ratio: on a shared machine whose speed drifts, drift then hits both sides alike.
	// 0 or 1: one of each. More than one needs Direct.
	Rounds   int
	Progress io.Writer // once-a-second progress lines; nil for none

	// Tenants main accounts with Subs subaccounts each are seeded (in parallel,
	// SeedConcurrency calls at a time) and the load goes round robin over all the
	// subaccounts; 0 means 1. Only when seeding.
	Tenants, Subs   int
	SeedConcurrency int  // 0: DefaultSeedConcurrency
	SeedOnly        bool // seed (and measure Redis's memory with Redis), send no load
	// NoWarmup skips the warm-up: when the load spans more than one account, one request per
	// account goes through the gateway before the first phase (not measured; before the
	// money check's first reading), so that the phases see the gateway's steady state — its
	// account cache holding every account — rather than a first round that reads each
	// account from the store.
	NoWarmup bool
	// Bare is the base URL of a bare proxy (`gateway bench proxy`) forwarding to the same
	// upstream as the gateway: each round then drives it after the gateway.
	Bare string
	// Redis is the URL of the gateway's Redis (redis://… or unix://…), read with INFO around
	// each phase (CPU, script calls) and around seeding (memory). "": none.
	Redis string
	// GatewayPID and BarePID name the processes whose CPU time each phase reports; 0: the
	// process listening on Target's (Bare's) port, when it is on this machine (Linux).
	GatewayPID, BarePID int
}

func (o *Options) setDefaults() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Target, DefaultTarget)
	def(&o.Operator, DefaultOperator)
	def(&o.Path, DefaultPath)
	def(&o.Method, DefaultMethod)
	def(&o.Credit, DefaultCredit)
	o.Method = strings.ToUpper(o.Method)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Duration < 0 || o.Requests < 0 {
		return errors.New("duration and requests must not be negative")
	}
	if o.Rounds < 0 {
		return errors.New("rounds must not be negative")
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if o.Rounds > 1 && o.Direct == "" && o.Bare == "" {
		return errors.New("--rounds alternates the gateway and --direct or --bare: give one")
	}
	if o.Tenants < 0 || o.Subs < 0 || o.SeedConcurrency < 0 {
		return errors.New("tenants, subs and seed concurrency must not be negative")
	}
	o.Tenants, o.Subs = max(o.Tenants, 1), max(o.Subs, 1)
	if o.SeedConcurrency == 0 {
		o.SeedConcurrency = DefaultSeedConcurrency
	}
	if o.AuthID != "" && (o.Tenants > 1 || o.Subs > 1 || o.SeedOnly) {
		return errors.New("--tenants, --subs and --seed-only seed accounts: not with --auth-id")
	}
	if o.Duration == 0 && o.Requests == 0 {
		o.Duration = DefaultDuration
	}
	if (o.AuthID == "") != (o.AuthToken == "") {
		return errors.New("give both --auth-id and --auth-token, or neither (to seed accounts)")
	}
	if !strings.HasPrefix(o.Path, "/") {
		return fmt.Errorf("path %q must start with /", o.Path)
	}
	if _, err := parseMicros(o.Credit); err != nil {
		return fmt.Errorf("credit: %w", err)
	}
	if o.Price != "" {
		if _, err := parseMicros(o.Price); err != nil {
			return fmt.Errorf("price: %w", err)
		}
	}
	return nil
}

// Run seeds (or takes) the accounts, drives the gateway, reads the money, then drives the
// bare proxy and the direct upstream if asked. If ctx is cancelled during a phase it returns
// the partial Report together with ctx's error; other errors (seeding, bad options) come with
// a nil Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	rep := &Report{
		Target: o.Target, Method: o.Method, Concurrency: o.Concurrency,
		DurationLimit: o.Duration.Seconds(), RequestLimit: o.Requests,
	}
	m, err := o.meters()
	if err != nil {
		return nil, err
	}
	if m.redis != nil {
		defer m.redis.Close()
	}
	cl := newAPIClient(o.Timeout)
	load := []Credentials{{AuthID: o.AuthID, AuthToken: o.AuthToken}}
	payers := load // whose balances pay for the load
	if o.AuthID == "" {
		memBefore := m.read(ctx).redis
		sd, err := seed(ctx, cl, o)
		if err != nil {
			return nil, fmt.Errorf("seeding accounts: %w", err)
		}
		rep.Seeded = sd.info
		load, payers = sd.subs, sd.mains
		if memAfter := m.read(ctx).redis; memBefore.ok && memAfter.ok {
			rep.Memory = memoryUse(memBefore.memory, memAfter.memory, o.Tenants, len(sd.subs))
		}
	}
	rep.AuthID = load[0].AuthID
	rep.Path = strings.ReplaceAll(o.Path, "{auth_id}", load[0].AuthID)
	rep.Meters = m.names()
	if o.SeedOnly {
		return rep, nil
	}

	if o.AuthID != "" && bytes.Contains(o.Body, []byte(NumberPlaceholder)) {
		if load[0].Number, err = accountNumber(ctx, cl, o.Target, load[0]); err != nil {
			return nil, err
		}
	}

	spec := phaseSpec{
		name: "gateway", base: o.Target, method: o.Method, meters: m,
		concurrency: o.Concurrency, duration: o.Duration, requests: o.Requests,
		timeout: o.Timeout, progress: o.Progress,
	}
	for _, c := range load {
		spec.paths = append(spec.paths, strings.ReplaceAll(o.Path, "{auth_id}", c.AuthID))
		spec.headers = append(spec.headers, [][2]string{{"X-Auth-ID", c.AuthID}, {"X-Auth-Token", c.AuthToken}})
		spec.bodies = append(spec.bodies, bytes.ReplaceAll(o.Body, []byte(NumberPlaceholder), []byte(c.Number)))
	}
	if len(load) > 1 && !o.NoWarmup {
		w := spec
		w.name, w.meters, w.duration, w.requests, w.progress = "warm-up", nil, 0, int64(len(load)), nil
		p, err := runPhase(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("warm-up: %d requests, one per account, before the first phase "+
			"(not measured; %d answered 2xx, %d transport errors)", p.Requests, p.Success, p.Errors))
	}
	before, beforeNote, berr := settledBalances(ctx, cl, o.Target, payers, HoldWait)
	if beforeNote != "" {
		rep.Notes = append(rep.Notes, "before the run: "+beforeNote)
	}
	others := []phaseSpec{} // after the gateway in each round: bare, direct
	if o.Bare != "" {
		b := spec
		b.name, b.base = "bare", o.Bare
		others = append(others, b)
	}
	if o.Direct != "" {
		d := spec
		d.name, d.base = "direct", o.Direct
		others = append(others, d)
	}
	var gws []*Phase
	byName := map[string][]*Phase{}
	var after *balanceRead
	var aerr, oerr error
	readAfter := func() {
		if after == nil && aerr == nil {
			var note string
			after, note, aerr = settledBalances(context.WithoutCancel(ctx), cl, o.Target, payers, HoldWait)
			if note != "" {
				rep.Notes = append(rep.Notes, note)
			}
		}
	}
rounds:
	for round := 1; round <= o.Rounds; round++ {
		if o.Rounds > 1 && o.Progress != nil {
			fmt.Fprintf(o.Progress, "round %d of %d\n", round, o.Rounds)
		}
		gw, err := runPhase(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("gateway phase: %w", err)
		}
		gws = append(gws, gw)
		// The other phases move no money, so the balance after the last gateway phase is
		// the one to check.
		if round == o.Rounds || ctx.Err() != nil {
			readAfter()
		}
		for _, other := range others {
			if ctx.Err() != nil {
				break rounds
			}
			p, err := runPhase(ctx, other)
			if err != nil {
				oerr = fmt.Errorf("%s phase: %w", other.name, err)
				break rounds
			}
			byName[other.name] = append(byName[other.name], p)
		}
		if ctx.Err() != nil {
			break
		}
	}
	readAfter()
	gw := combine(gws)
	rep.Gateway = *gw
	if ps := byName["bare"]; len(ps) > 0 {
		rep.Bare = combine(ps)
		rep.BareRatio = ratios(gw, rep.Bare)
	}
	if ps := byName["direct"]; len(ps) > 0 {
		rep.Direct = combine(ps)
		rep.Ratio = ratios(gw, rep.Direct)
	}
	if o.Rounds > 1 {
		for i, g := range gws {
			rd := Round{Gateway: g.Throughput, GatewayMachine: g.Machine}
			if ps := byName["direct"]; i < len(ps) {
				rd.Direct, rd.Ratio, rd.DirectMachine = ps[i].Throughput, ratios(g, ps[i]).Throughput, ps[i].Machine
			}
			if ps := byName["bare"]; i < len(ps) {
				rd.Bare, rd.BareRatio, rd.BareMachine = ps[i].Throughput, ratios(g, ps[i]).Throughput, ps[i].Machine
			}
			rep.Rounds = append(rep.Rounds, rd)
		}
	}
	if err := errors.Join(berr, aerr); err != nil {
		rep.Notes = append(rep.Notes, "money not checked: reading the balance: "+err.Error())
	} else {
		var note string
		rep.Money, note = moneyCheck(before, after, gw.Success, o.Price)
		if note != "" {
			rep.Notes = append(rep.Notes, note)
		}
	}

	if oerr != nil {
		return rep, oerr // the gateway side and the money are reported all the same
	}
	return rep, ctx.Err()
}

// meters are what Run reads around each phase: the gateway's and the bare proxy's processes
// (given, or found by their listening ports on this machine) and Redis (Options.Redis).
func (o *Options) meters() (*meters, error) {
	m := &meters{}
	add := func(name string, pid int, base string) {
		if pid == 0 && base != "" {
			pid = pidListening(base)
		}
		if pid > 0 {
			m.procs = append(m.procs, meteredProc{name: name, pid: pid})
		}
	}
	add("gateway", o.GatewayPID, o.Target)
	if o.Bare != "" || o.BarePID > 0 {
		add("bare proxy", o.BarePID, o.Bare)
	}
	if o.Redis != "" {
		opt, err := redis.ParseURL(o.Redis)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		opt.PoolSize, opt.MaxRetries = 1, -1
		m.redis = redis.NewClient(opt)
	}
	return m, nil
}

// combine is the phases of several rounds as one: counts and latencies pooled, throughput
// over their summed durations. One phase is returned as it is.
func combine(ps []*Phase) *Phase {
	if len(ps) == 1 {
		return ps[0]
	}
	c := &Phase{Name: ps[0].Name, URL: ps[0].URL, Status: map[int]int64{}, Hist: &Histogram{}, cpu: cpuTicks{ok: true}}
	var elapsed float64
	for _, p := range ps {
		c.cpu = c.cpu.plus(p.cpu)
		c.use = c.use.plus(p.use)
		c.Requests += p.Requests
		c.Success += p.Success
		c.Errors += p.Errors
		elapsed += p.Duration
		for code, n := range p.Status {
			c.Status[code] += n
		}
		for k, n := range p.ErrorKinds {
			if c.ErrorKinds == nil {
				c.ErrorKinds = map[string]int64{}
			}
			c.ErrorKinds[k] += n
		}
		if c.FirstError == "" {
			c.FirstError = p.FirstError
		}
		if p.Hist != nil {
			c.Hist.Merge(p.Hist)
		}
	}
	c.finish(time.Duration(elapsed * float64(time.Second)))
	return c
}

// ratios compares the gateway phase with the direct one; a ratio whose divisor is zero is 0.
func ratios(gw, d *Phase) *Ratio {
	r := &Ratio{}
	if d.Throughput > 0 {
		r.Throughput = gw.Throughput / d.Throughput
	}
	if d.Latency.P99 > 0 {
		r.P99 = gw.Latency.P99 / d.Latency.P99
	}
	return r
}
