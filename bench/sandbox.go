package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantgw/gateway/gateway"
)

// sandboxUsage is the help text of `gateway bench sandbox`.
const sandboxUsage = `Usage: gateway bench sandbox > upstreams.yaml

Runs the built-in sandbox voice and SMS upstreams in a process of their own, on loopback,
and prints the "upstreams" section of a configuration file that points at them. A gateway
started with that file ("gateway serve --config upstreams.yaml") forwards to them over plain
keep-alive connections, and its process's CPU figures in "gateway bench" are its own, without
the sandbox's work. Runs until SIGINT or SIGTERM.
`

// sandboxMain runs `gateway bench sandbox`.
func sandboxMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, sandboxUsage)
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			return 0
		}
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	return runSandbox(ctx, stdout, stderr)
}

// runSandbox serves the sandbox upstreams until ctx is done.
func runSandbox(ctx context.Context, stdout, stderr io.Writer) int {
	voice, sms, stop, err := gateway.StartSandbox()
	if err != nil {
		fmt.Fprintln(stderr, "gateway bench sandbox:", err)
		return 1
	}
	defer stop()
	fmt.Fprintf(stdout, "upstreams:\n  voice: {url: %q}\n  sms: {url: %q}\n", voice, sms)
	fmt.Fprintf(stderr, "sandbox upstreams: voice %s, sms %s\n", voice, sms)
	<-ctx.Done()
	return 0
}
