package config

import (
	"errors"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidate checks the exact text of Validate's errors on a Config
// built in code, as other packages' tests build them.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"price", func(c *Config) { c.Routes[2].Price = "1e3" },
			`routes[2].price: "1e3" is not a decimal amount with at most 6 fraction digits`},
		{"upstream timeout", func(c *Config) { u := c.Upstreams["voice"]; u.Timeout = 0; c.Upstreams["voice"] = u },
			`upstreams.voice.timeout: must be > 0`},
		{"missing upstream", func(c *Config) { c.Routes[1].Upstream = "fax" },
			`routes[1].upstream: no upstream named "fax"`},
		{"url required outside the sandbox", func(c *Config) { c.Sandbox = false },
			"upstreams.sms.url: required\nupstreams.voice.url: required"},
		{"sandbox URL once filled", func(c *Config) { u := c.Upstreams["sms"]; u.URL = "sms:9002"; c.Upstreams["sms"] = u },
			`upstreams.sms.url: "sms:9002" must start with http:// or https://`},
		{"no upstreams", func(c *Config) { c.Upstreams = nil },
			"upstreams: none configured\nroutes[0].upstream: no upstream named \"voice\"\nroutes[1].upstream: no upstream named \"voice\"\nroutes[2].upstream: no upstream named \"sms\""},
		{"no routes", func(c *Config) { c.Routes = nil }, "routes: none configured"},
		{"unnamed route", func(c *Config) { c.Routes[0].Name = "" }, "routes[0].name: required"},
		{"caller_id", func(c *Config) { c.Routes[0].CallerID = "from&to" },
			`routes[0].caller_id: "from&to" is not a field name (letters, digits, '_', '-', '.'; at most 64)`},
		{"negative grace", func(c *Config) { c.Defaults.TokenGrace = Duration(-time.Second) }, "defaults.token_grace: must not be negative"},
		{"store timeouts", func(c *Config) { c.Store.ReadTimeout = 0 }, "store.read_timeout: must be > 0"},
		{"sentinel", func(c *Config) { c.Store.Sentinel = Sentinel{Master: "m", Addrs: []string{"s:0"}} },
			`store.sentinel.addrs[0]: "s:0" has no valid port`},
		{"cluster without host", func(c *Config) { c.Store.Cluster = []string{":7000"} },
			`store.cluster[0]: ":7000" has no host`},
		{"trusted proxy", func(c *Config) { c.Limits.TrustedProxies = []string{"10.0.0.0/8", "lb.internal"} },
			`limits.trusted_proxies[1]: "lb.internal" is not an IP address or a network such as 10.0.0.0/8`},
		{"usage retention", func(c *Config) { c.Limits.UsageRetention = Duration(30 * 24 * time.Hour) },
			`limits.usage_retention: 720h0m0s is too short: at least 744h0m0s (31 days)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.change(&c)
			err := c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Setting == "" || e.Reason == "" || e.Source != "" {
				t.Errorf("errors.As(*Error) = %+v", e)
			}
		})
	}
}

func TestValidStoresAndRoutes(t *testing.T) {
	for _, change := range []func(c *Config){
		func(c *Config) { c.Store.Redis = "redis://localhost:6379/0" },
		func(c *Config) { c.Store.Redis = "rediss://user:pass@redis.example:6380" },
		func(c *Config) { c.Store.Redis = "unix:///run/redis/redis.sock" },
		func(c *Config) { c.Store.Redis = "unix://:pw@/run/redis/redis.sock?db=2" },
		func(c *Config) { c.Store.Cluster = []string{"10.0.0.1:7000", "[::1]:7001"} },
		func(c *Config) {
			c.Store.Sentinel = Sentinel{Master: "mymaster", Addrs: []string{"s1:26379"}}
			c.Store.DataDir = ""
		},
		func(c *Config) { c.Listen, c.OperatorListen = "127.0.0.1:0", "127.0.0.1:0" },
	} {
		c := Default()
		change(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c.Store, err)
		}
	}
	for _, path := range []string{
		"/v1/Account/{auth_id}/Call/",
		"/v1/Account/{auth_id}/Call",
		"/v2/Account/{auth_id}/Balance/",
		"/{auth_id}",
		"/v1/Account/{auth_id}/Number/Rent/",
		"/v1/Account/{auth_id}/Usages/",
	} {
		if reason := checkPath(path); reason != "" {
			t.Errorf("checkPath(%q) = %q, want valid", path, reason)
		}
	}
}

func TestMoneySyntax(t *testing.T) {
	for _, m := range []string{"0", "1", "0.01", "0.0100", "25.50", "0.000125", "999999999", "123456789.123456"} {
		if err := Money(m).check(); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	for _, m := range []string{"", "1e3", "-1", "+1", "0.0000001", "abc", ".5", "5.", "1,5", "1234567890", " 1", "1 ", "0x10", "1_000", "١"} {
		if err := Money(m).check(); err == nil {
			t.Errorf("%q: accepted", m)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"250ms": 250 * time.Millisecond, "10s": 10 * time.Second, "24h": 24 * time.Hour, "1h30m": 90 * time.Minute, "0s": 0} {
		d, err := ParseDuration(s)
		if err != nil || d.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, d, err, want)
		}
	}
	for _, s := range []string{"", "10", "ten", "-1s", "1d"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (Log{Level: level}).SlogLevel().String(); got != want {
			t.Errorf("%s: %s, want %s", level, got, want)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{Setting: "a.b", Reason: "must be > 0"}, "a.b: must be > 0"},
		{Error{Setting: "a.b", Reason: "must be > 0", Source: "f.yaml:3"}, "a.b: must be > 0 (f.yaml:3)"},
		{Error{Reason: "bad"}, "bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}
