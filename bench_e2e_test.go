package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tenantgw/gateway/bench"
	"github.com/tenantgw/gateway/gateway"
	"github.com/tenantgw/gateway/policy"
)

// TestBenchAgainstRealGateway runs `gateway bench` briefly (a few hundred requests) against
// a real gateway — real Redis, the sandbox upstreams, the management and operator APIs —
// with --direct, and checks the report: every request answered, percentiles in order, the
// money exact (charged = admitted × price), and the gateway/direct ratio present.
func TestBenchAgainstRealGateway(t *testing.T) {
	voice, sms, stopSandbox, err := gateway.StartSandbox()
	if err != nil {
		t.Fatal(err)
	}
	defer stopSandbox()
	stk := startStack(t, []policy.RouteSpec{
		{Name: "call.create", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", KYC: true, Price: "0.0100"},
		{Name: "message.create", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0.0050"},
	}, map[string]gateway.Upstream{"voice": {URL: voice}, "sms": {URL: sms}})

	var out bytes.Buffer
	code := bench.Main([]string{"--target", "http://" + stk.pub.Addr, "--operator", "http://" + stk.ops.Addr,
		"--operator-token", stk.opToken, "-c", "16", "-n", "300", "--timeout", "10s", "--price", "0.01",
		"--direct", voice, "--json", "--quiet"}, &out, &out)
	if code != 0 {
		t.Fatalf("bench exited %d:\n%s", code, out.String())
	}
	var rep struct {
		Gateway struct {
			Requests, Success, Errors int64
			Status                    map[string]int64
			Latency                   struct {
				P50, P90, P99 float64
				P999          float64 `json:"p99_9"`
			} `json:"latency_ms"`
		}
		Direct *struct{ Requests, Success int64 }
		Ratio  *struct{ Throughput, P99 float64 }
		Money  *struct {
			Charged, Expected string
			Admitted          int64
			Exact             *bool
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	g := rep.Gateway
	if g.Requests != 300 || g.Success != 300 || g.Errors != 0 || g.Status["201"] != 300 {
		t.Fatalf("gateway phase: %+v", g)
	}
	if !(0 < g.Latency.P50 && g.Latency.P50 <= g.Latency.P90 && g.Latency.P90 <= g.Latency.P99 && g.Latency.P99 <= g.Latency.P999) {
		t.Fatalf("percentiles out of order: %+v", g.Latency)
	}
	if rep.Money == nil || rep.Money.Exact == nil || !*rep.Money.Exact || rep.Money.Admitted != 300 || rep.Money.Charged != "3.00" {
		t.Fatalf("money: %+v", rep.Money)
	}
	if rep.Direct == nil || rep.Direct.Requests != 300 || rep.Direct.Success != 300 || rep.Ratio == nil || rep.Ratio.Throughput <= 0 {
		t.Fatalf("direct phase / ratio: %+v %+v", rep.Direct, rep.Ratio)
	}
}
