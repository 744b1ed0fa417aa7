package config

import (
	"testing"
	"time"
)

// callRoutes is the API.md §7 example's call route.
const callRoutes = `
upstreams:
  voice: {url: "http://127.0.0.1:9001", timeout: 10s, max_conns: 512, token_file: "/run/voice.token"}
  sms:   {url: "http://127.0.0.1:9002", timeout: 10s, max_conns: 512}
limits: {hold_retention: 48h}
routes:
  - method: POST
    path: "/v1/Account/{auth_id}/Call/"
    upstream: voice
    permission: calls
    kyc: true
    price: "0"
    call:
      rate: "0.0120"
      increment: "60/60"
      connect_fee: "0"
      grant: 10m
      min_duration: 1m
      max_duration: 4h
      ring_timeout: 60s
      expiry_grace: 60s
      on_expiry: commit
  - {method: GET,  path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: cdr, price: "0"}
  - {method: POST, path: "/v1/Account/{auth_id}/Conference/", upstream: voice, permission: calls, price: "0", call: {rate: 0.0300, increment: 6/6, on_expiry: release}}
`

func TestLoadCallBlock(t *testing.T) {
	c, err := Load(writeConfig(t, callRoutes), nil)
	if err != nil {
		t.Fatal(err)
	}
	full := Call{Rate: "0.0120", Increment: "60/60", ConnectFee: "0", Grant: Duration(10 * time.Minute),
		MinDuration: Duration(time.Minute), MaxDuration: Duration(4 * time.Hour), RingTimeout: Duration(time.Minute),
		ExpiryGrace: Duration(time.Minute), OnExpiry: "commit"}
	if c.Routes[0].Call == nil || *c.Routes[0].Call != full {
		t.Fatalf("call block %+v, want %+v", c.Routes[0].Call, full)
	}
	if c.Routes[1].Call != nil {
		t.Fatalf("a route without a call block got %+v", c.Routes[1].Call)
	}
	// a block that sets some settings takes the defaults for the rest
	want := DefaultCall()
	want.Rate, want.Increment, want.OnExpiry = "0.0300", "6/6", "release"
	if got := c.Routes[2].Call; got == nil || *got != want {
		t.Fatalf("partial call block %+v, want %+v", got, want)
	}
	if c.Limits.HoldRetention != Duration(48*time.Hour) || Default().Limits.HoldRetention != Duration(24*time.Hour) {
		t.Fatalf("hold_retention %v, default %v", c.Limits.HoldRetention, Default().Limits.HoldRetention)
	}
	if c.Upstreams["voice"].TokenFile != "/run/voice.token" {
		t.Fatalf("token_file %q", c.Upstreams["voice"].TokenFile)
	}
}

func TestValidateCallBlock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Call)
		want   string
	}{
		{"rate required", func(c *Call) { c.Rate = "" }, `routes[0].call.rate: required (the price of a minute, such as "0.0120")`},
		{"rate", func(c *Call) { c.Rate = "-1" }, `routes[0].call.rate: "-1" is not a decimal amount with at most 6 fraction digits`},
		{"connect fee", func(c *Call) { c.ConnectFee = "1e2" }, `routes[0].call.connect_fee: "1e2" is not a decimal amount with at most 6 fraction digits`},
		{"increment", func(c *Call) { c.Increment = "60" }, `routes[0].call.increment: "60" is ` + errIncrementText},
		{"increment zero", func(c *Call) { c.Increment = "0/6" }, `routes[0].call.increment: "0/6" is ` + errIncrementText},
		{"grant in seconds", func(c *Call) { c.Grant = Duration(600500 * time.Millisecond) }, `routes[0].call.grant: 10m0.5s is not a whole number of seconds`},
		{"grant", func(c *Call) { c.Grant = 0; c.MinDuration = 0 }, "routes[0].call.grant: must be at least 1s\nroutes[0].call.min_duration: must be at least 1s"},
		{"min over max", func(c *Call) { c.MinDuration = Duration(5 * time.Hour) }, `routes[0].call.min_duration: 5h0m0s is longer than max_duration (4h0m0s)`},
		{"min over grant", func(c *Call) { c.MinDuration = Duration(11 * time.Minute) }, `routes[0].call.min_duration: 11m0s is longer than grant (10m0s): every call would be refused`},
		{"max", func(c *Call) { c.MaxDuration = Duration(25 * time.Hour) }, `routes[0].call.max_duration: 25h0m0s is too long: at most 24h0m0s`},
		{"cost out of range", func(c *Call) { c.Rate = "999999999" }, `routes[0].call.rate: 999999999 for max_duration (4h0m0s) costs more than 9,007,199,254.740991`},
		{"on expiry", func(c *Call) { c.OnExpiry = "refund" }, `routes[0].call.on_expiry: "refund" is not one of "commit", "release"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			call := DefaultCall()
			call.Rate = "0.0120"
			tc.change(&call)
			c.Routes[0].Call = &call
			if err := c.Validate(); err == nil || err.Error() != tc.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tc.want)
			}
		})
	}
	c := Default()
	call := DefaultCall()
	call.Rate = "0.0120"
	c.Routes[0].Call = &call
	if err := c.Validate(); err != nil {
		t.Fatalf("the default call block with a rate: %v", err)
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Fatal("an empty config is valid")
	}
}

var errIncrementText = `not an increment such as "60/60" or "6/6" (first block/each later block, seconds 1 to 3600)`

func TestUpstreamTokenEnv(t *testing.T) {
	if got := UpstreamTokenEnv("voice-eu"); got != "GATEWAY_UPSTREAMS_VOICE_EU_TOKEN" {
		t.Fatalf("UpstreamTokenEnv = %q", got)
	}
	if _, err := Load(writeConfig(t, callRoutes), []string{"GATEWAY_UPSTREAMS_VOICE_TOKEN=s3cret"}); err != nil {
		t.Fatalf("the token of a configured upstream: %v", err)
	}
	// in the sandbox the upstreams exist once Load completes the configuration
	if _, err := Load("", []string{"GATEWAY_UPSTREAMS_VOICE_TOKEN=s3cret"}); err != nil {
		t.Fatalf("the sandbox voice upstream's token: %v", err)
	}
	_, err := Load(writeConfig(t, callRoutes), []string{"GATEWAY_UPSTREAMS_FAX_TOKEN=x"})
	if err == nil || err.Error() != "GATEWAY_UPSTREAMS_FAX_TOKEN: names no configured upstream" {
		t.Fatalf("unknown upstream's token: %v", err)
	}
}
