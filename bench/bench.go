// Package bench is the load generator behind `gateway bench`, and the measuring instrument the
// project's performance targets are stated in.
//
// Contract:
//   - Accounts. Unless credentials are given (Options.AuthID/AuthToken), Run seeds them: through
//     the operator API (Bearer token) it creates a main account named "bench" with
//     Options.RateLimit and credits it Options.Credit, then through the public API (HTTP Basic as
//     that main account) it creates the subaccount "bench-sub" with the same rate limit. The load
//     runs as the subaccount (X-Auth-ID/X-Auth-Token headers) on its own path, so every request
//     gets full enforcement: two rate limits in the chain, permission and KYC checks, a debit.
//     Seeded accounts are left in place, so the money can be inspected afterwards.
//   - Load. Options.Concurrency workers share one fasthttp.HostClient (at most one connection
//     each, explicit timeouts) and send the same request back to back, until Options.Duration
//     has passed or Options.Requests have been sent, whichever comes first, or ctx is cancelled
//     (no new request is sent; those in flight finish within Options.Timeout). Each worker keeps
//     its own latency Histogram (µs resolution, <1% error) and counts by status code; transport
//     errors are counted by kind and have no latency.
//   - Money. The billing balance of the load account (GET /v1/Account/{auth_id}/Balance/) is read
//     before and after the gateway phase; charged = before − after. With Options.Price it is
//     checked against admitted (2xx) × price to the micro-unit; without, the price is inferred as
//     charged ÷ admitted. With given credentials, other traffic on the same billing account
//     disturbs this figure.
//   - Direct. With Options.Direct, the same method, path, headers and body are sent to that
//     upstream base URL in a second phase, after the gateway phase and its balance read, and the
//     Report carries the ratios gateway/direct of throughput and of p99 latency.
//   - Machine. On Linux each phase (and each round) also carries what the whole machine's CPU
//     did meanwhile, from /proc/stat: busy, idle and steal, in per cent. On a shared virtual
//     machine steal is one drift that moves every figure (not the only one); a round whose
//     two phases saw very different steal compared two different machines.
//
// Nothing in the package is timing-sensitive in tests: it measures, it does not assert speed.
// Run may be called from several goroutines with different Options; a Report is a plain value.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenantgw/gateway/config"
)

// Defaults of Options (and of the command's flags).
const (
	DefaultTarget      = "http://127.0.0.1" + config.DefaultListen // a gateway started with no configuration
	DefaultOperator    = "http://" + config.DefaultOperatorListen
	DefaultPath        = "/v1/Account/{auth_id}/Call/"
	DefaultMethod      = "POST"
	DefaultBody        = `{"from":"14155550100","to":"14155550123","answer_url":"https://example.com/answer","answer_method":"POST"}`
	DefaultConcurrency = 64
	DefaultDuration    = 10 * time.Second
	DefaultRateLimit   = 1000000
	DefaultCredit      = "1000000.00"
	DefaultTimeout     = 10 * time.Second
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
	Body          []byte        // request body, sent as application/json
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
	if o.Rounds > 1 && o.Direct == "" {
		return errors.New("--rounds alternates the gateway and --direct: give --direct")
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
// direct upstream if asked. If ctx is cancelled during a phase it returns the partial Report
// together with ctx's error; other errors (seeding, bad options) come with a nil Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	rep := &Report{
		Target: o.Target, Method: o.Method, Concurrency: o.Concurrency,
		DurationLimit: o.Duration.Seconds(), RequestLimit: o.Requests,
	}
	cl := newAPIClient(o.Timeout)
	creds := Credentials{AuthID: o.AuthID, AuthToken: o.AuthToken}
	if creds.AuthID == "" {
		acc, err := seed(ctx, cl, o)
		if err != nil {
			return nil, fmt.Errorf("seeding accounts: %w", err)
		}
		rep.Seeded = acc
		creds = acc.Sub
	}
	rep.AuthID = creds.AuthID
	rep.Path = strings.ReplaceAll(o.Path, "{auth_id}", creds.AuthID)

	before, berr := readBalance(ctx, cl, o.Target, creds)
	spec := phaseSpec{
		name: "gateway", base: o.Target, path: rep.Path, method: o.Method, body: o.Body,
		headers:     [][2]string{{"X-Auth-ID", creds.AuthID}, {"X-Auth-Token", creds.AuthToken}},
		concurrency: o.Concurrency, duration: o.Duration, requests: o.Requests,
		timeout: o.Timeout, progress: o.Progress,
	}
	direct := spec
	direct.name, direct.base = "direct", o.Direct
	var gws, ds []*Phase
	var after *balanceRead
	var aerr, derr error
	for round := 1; round <= o.Rounds; round++ {
		if o.Rounds > 1 && o.Progress != nil {
			fmt.Fprintf(o.Progress, "round %d of %d\n", round, o.Rounds)
		}
		gw, err := runPhase(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("gateway phase: %w", err)
		}
		gws = append(gws, gw)
		// The direct phases move no money, so the balance after the last gateway phase is
		// the one to check.
		if round == o.Rounds || ctx.Err() != nil {
			after, aerr = readBalance(context.WithoutCancel(ctx), cl, o.Target, creds)
		}
		if ctx.Err() != nil || o.Direct == "" {
			break
		}
		d, err := runPhase(ctx, direct)
		if err != nil {
			derr = fmt.Errorf("direct phase: %w", err)
			if round < o.Rounds {
				after, aerr = readBalance(context.WithoutCancel(ctx), cl, o.Target, creds)
			}
			break
		}
		ds = append(ds, d)
		if ctx.Err() != nil && round < o.Rounds {
			after, aerr = readBalance(context.WithoutCancel(ctx), cl, o.Target, creds)
			break
		}
	}
	gw := combine(gws)
	rep.Gateway = *gw
	if len(ds) > 0 {
		rep.Direct = combine(ds)
		rep.Ratio = ratios(gw, rep.Direct)
	}
	if o.Rounds > 1 {
		for i := range ds {
			rep.Rounds = append(rep.Rounds, Round{Gateway: gws[i].Throughput, Direct: ds[i].Throughput,
				Ratio: ratios(gws[i], ds[i]).Throughput, GatewayMachine: gws[i].Machine, DirectMachine: ds[i].Machine})
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

	if derr != nil {
		return rep, derr // the gateway side and the money are reported all the same
	}
	return rep, ctx.Err()
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
