package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
)

// Usage is the help text of `gateway bench`.
const Usage = `Usage: gateway bench [flags]

       gateway bench proxy --upstream URL [--listen ADDR]   (a bare proxy to compare with)
       gateway bench sandbox > upstreams.yaml              (the sandbox upstreams on their own)

Drives a running gateway with concurrent requests and reports throughput, latency
percentiles, outcomes by status code and the money charged. Unless --auth-id and
--auth-token are given it seeds its own accounts: --tenants main accounts (operator API),
each credited with --credit, with --subs subaccounts each (public API), in parallel; the
load runs as the subaccounts, round robin, so every request is fully enforced (two rate
limits, permission, KYC, debit), and the money is checked over all of them. With --bare
(a "gateway bench proxy" forwarding to the same upstream) and --direct (the upstream) it
then sends the same load through the bare proxy and straight to the upstream and prints
gateway/bare and gateway/direct; --rounds N alternates them N times and combines them,
which steadies the ratios on a machine whose speed drifts. On Linux each phase reports the
CPU time per request of the gateway's and the bare proxy's processes (found by their
listening ports, or --gateway-pid, --bare-pid) and, with --redis, Redis's (INFO cpu) and
its script calls (INFO commandstats). --seed-only seeds and stops; with --redis it reports
the memory Redis took per account.
With no flags it measures a local "gateway serve" (run it from the same directory, so
the operator token is found in ./data/operator_token).

Examples:
  gateway bench
  gateway bench -c 64 -d 30s --direct http://127.0.0.1:9001 --price 0.01
      (serve logs the sandbox upstreams' URLs at start; --direct takes the voice one)
  gateway bench -c 64 -d 10s --rounds 3 --direct http://127.0.0.1:9001 --price 0.01
  gateway bench proxy --upstream http://127.0.0.1:9001 --listen 127.0.0.1:9100 &
  gateway bench --tenants 100 --subs 10 -d 8s --bare http://127.0.0.1:9100 \
      --direct http://127.0.0.1:9001 --redis redis://127.0.0.1:6379/0 --price 0.01
  gateway bench --tenants 20 --subs 1000 --seed-only --redis redis://127.0.0.1:6379/0
  gateway bench -n 10000 --json > report.json
  gateway bench --auth-id SA_… --auth-token … --method POST --path /v1/Account/{auth_id}/Message/

Exit status: 0 done; 1 error, or --price given and the money does not match;
2 bad flags; 130 interrupted (the partial report is printed).

Flags:
`

// Main runs `gateway bench` with args (the flags after the word "bench"), writing the report
// to stdout and progress and errors to stderr, and returns the exit code. SIGINT stops the
// load early and still prints the report of what ran.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "proxy" {
		return proxyMain(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "sandbox" {
		return sandboxMain(args[1:], stdout, stderr)
	}
	o, asJSON, quiet, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	if !quiet && !asJSON {
		o.Progress = stderr
	}
	if o.AuthID == "" && o.OperatorToken == "" {
		o.OperatorToken = defaultOperatorToken()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	rep, err := Run(ctx, o)
	interrupted := err != nil && ctx.Err() != nil && rep != nil
	if err != nil && !interrupted {
		fmt.Fprintln(stderr, "gateway bench:", err)
		if rep == nil {
			return 1
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if e := enc.Encode(rep); e != nil {
			fmt.Fprintln(stderr, "gateway bench:", e)
			return 1
		}
	} else if e := rep.WriteText(stdout); e != nil {
		fmt.Fprintln(stderr, "gateway bench:", e)
		return 1
	}
	switch {
	case interrupted:
		fmt.Fprintln(stderr, "gateway bench: interrupted")
		return 130
	case err != nil:
		return 1
	case rep.Money != nil && rep.Money.Exact != nil && !*rep.Money.Exact:
		fmt.Fprintf(stderr, "gateway bench: money mismatch: charged %s, admitted × price = %s\n",
			rep.Money.Charged, rep.Money.Expected)
		return 1
	}
	return 0
}

// parseFlags returns the options, the output mode, and code ≥ 0 if Main should return it now.
func parseFlags(args []string, stderr io.Writer) (o Options, asJSON, quiet bool, code int) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Target, "target", DefaultTarget, "gateway public base `URL`")
	fs.StringVar(&o.Operator, "operator", DefaultOperator, "gateway operator base `URL` (for seeding)")
	fs.StringVar(&o.OperatorToken, "operator-token", "", "operator API `token` (default: $GATEWAY_OPERATOR_TOKEN, else the file $GATEWAY_OPERATOR_TOKEN_FILE, else data/operator_token under $GATEWAY_STORE_DATA_DIR or .)")
	fs.StringVar(&o.AuthID, "auth-id", "", "run as this account instead of seeding (with --auth-token)")
	fs.StringVar(&o.AuthToken, "auth-token", "", "the auth_token of --auth-id")
	fs.StringVar(&o.Path, "path", DefaultPath, "request `path`; {auth_id} is replaced by the load account")
	fs.StringVar(&o.Method, "method", DefaultMethod, "request `method`")
	body := fs.String("body", "", "request body, sent as application/json (default: a small JSON call body; none for GET, HEAD, DELETE, OPTIONS)")
	fs.IntVar(&o.Concurrency, "c", DefaultConcurrency, "concurrency: workers = connections")
	fs.IntVar(&o.Concurrency, "concurrency", DefaultConcurrency, "same as -c")
	fs.DurationVar(&o.Duration, "d", DefaultDuration, "time bound of each phase; with -n alone there is none")
	fs.DurationVar(&o.Duration, "duration", DefaultDuration, "same as -d")
	fs.Int64Var(&o.Requests, "n", 0, "stop each phase after this many requests (0: no count bound)")
	fs.Int64Var(&o.Requests, "requests", 0, "same as -n")
	fs.DurationVar(&o.Timeout, "timeout", DefaultTimeout, "per-request timeout (connection wait, write, read)")
	fs.IntVar(&o.RateLimit, "rate-limit", DefaultRateLimit, "rate_limit (req/s) of the seeded accounts")
	fs.StringVar(&o.Credit, "credit", DefaultCredit, "`amount` credited to the seeded main account")
	fs.StringVar(&o.Price, "price", "", "expected price per admitted request: check charged = admitted × price (default: infer it)")
	fs.StringVar(&o.Direct, "direct", "", "upstream base `URL` to drive directly after the gateway, for the gateway/direct ratio")
	fs.IntVar(&o.Rounds, "rounds", 1, "with --direct or --bare: alternate the gateway with them this many times and combine the rounds (steadier on a shared machine)")
	fs.IntVar(&o.Tenants, "tenants", 1, "seed this many main accounts")
	fs.IntVar(&o.Subs, "subs", 1, "seed this many subaccounts under each main account; the load goes round robin over all of them")
	fs.IntVar(&o.SeedConcurrency, "seed-concurrency", DefaultSeedConcurrency, "management calls in flight while seeding")
	fs.BoolVar(&o.SeedOnly, "seed-only", false, "seed the accounts and stop (with --redis: report Redis's memory per account)")
	fs.BoolVar(&o.NoWarmup, "no-warmup", false, "with more than one account: no warm-up request per account before the first phase")
	fs.StringVar(&o.Bare, "bare", "", "base `URL` of a bare proxy (gateway bench proxy) to the same upstream, driven after the gateway")
	fs.StringVar(&o.Redis, "redis", "", "`URL` of the gateway's Redis (redis://host:port/db, unix:///path): report its CPU and script calls per request")
	fs.IntVar(&o.GatewayPID, "gateway-pid", 0, "process id of the gateway, for its CPU per request (default: the process listening on --target's port, on Linux)")
	fs.IntVar(&o.BarePID, "bare-pid", 0, "process id of the bare proxy (default: the process listening on --bare's port, on Linux)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout (no progress)")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, false, false, 0
		}
		return o, false, false, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway bench: unexpected argument %q\n", fs.Arg(0))
		return o, false, false, 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Requests > 0 && !set["d"] && !set["duration"] {
		o.Duration = 0 // -n alone: the count is the bound
	}
	o.Body = []byte(*body)
	if !set["body"] {
		switch strings.ToUpper(o.Method) {
		case "GET", "HEAD", "DELETE", "OPTIONS":
			o.Body = nil
		default:
			o.Body = []byte(DefaultBody)
		}
	}
	if o.Concurrency <= 0 || o.Duration < 0 || o.Requests < 0 || o.Timeout <= 0 || o.RateLimit <= 0 {
		fmt.Fprintln(stderr, "gateway bench: -c, --timeout and --rate-limit must be positive; -d and -n not negative")
		return o, false, false, 2
	}
	if o.Duration == 0 && o.Requests == 0 {
		fmt.Fprintln(stderr, "gateway bench: give a duration (-d) or a request count (-n)")
		return o, false, false, 2
	}
	if o.Rounds < 1 || (o.Rounds > 1 && o.Direct == "" && o.Bare == "") {
		fmt.Fprintln(stderr, "gateway bench: --rounds must be at least 1, and more than 1 needs --direct or --bare")
		return o, false, false, 2
	}
	if o.Tenants < 1 || o.Subs < 1 || o.SeedConcurrency < 1 || o.GatewayPID < 0 || o.BarePID < 0 {
		fmt.Fprintln(stderr, "gateway bench: --tenants, --subs and --seed-concurrency must be positive")
		return o, false, false, 2
	}
	return o, asJSON, quiet, -1
}

// defaultOperatorToken finds the token as `gateway serve` does: $GATEWAY_OPERATOR_TOKEN, else
// the file $GATEWAY_OPERATOR_TOKEN_FILE, else operator_token in the embedded store's data
// directory ($GATEWAY_STORE_DATA_DIR, default ./data), where serve keeps a generated token.
func defaultOperatorToken() string {
	if t := strings.TrimSpace(os.Getenv("GATEWAY_OPERATOR_TOKEN")); t != "" {
		return t
	}
	file := os.Getenv("GATEWAY_OPERATOR_TOKEN_FILE")
	if file == "" {
		dir := os.Getenv("GATEWAY_STORE_DATA_DIR")
		if dir == "" {
			dir = "data"
		}
		file = filepath.Join(dir, "operator_token")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
