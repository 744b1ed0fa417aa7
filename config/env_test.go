package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	file := writeConfig(t, "listen: \":7000\"\nstore: {cluster: [\"c1:7000\"]}\n")
	for _, tc := range []struct {
		env  string
		got  func(Config) any
		want any
	}{
		{"GATEWAY_LISTEN=:9000", func(c Config) any { return c.Listen }, ":9000"},
		{"GATEWAY_OPERATOR_LISTEN=127.0.0.1:9001", func(c Config) any { return c.OperatorListen }, "127.0.0.1:9001"},
		{"GATEWAY_OPERATOR_TOKEN_FILE=/run/secrets/op", func(c Config) any { return c.OperatorTokenFile }, "/run/secrets/op"},
		{"GATEWAY_STORE_CLUSTER= a:1, b:2 ,", func(c Config) any { return c.Store.Cluster }, []string{"a:1", "b:2"}},
		{"GATEWAY_STORE_DATA_DIR=/var/lib/gw", func(c Config) any { return c.Store.DataDir }, "/var/lib/gw"},
		{"GATEWAY_STORE_DIAL_TIMEOUT=250ms", func(c Config) any { return c.Store.DialTimeout.Std() }, 250 * time.Millisecond},
		{"GATEWAY_STORE_READ_TIMEOUT=3s", func(c Config) any { return c.Store.ReadTimeout.Std() }, 3 * time.Second},
		{"GATEWAY_STORE_WRITE_TIMEOUT=4s", func(c Config) any { return c.Store.WriteTimeout.Std() }, 4 * time.Second},
		{"GATEWAY_STORE_POOL_SIZE=20", func(c Config) any { return c.Store.PoolSize }, 20},
		{"GATEWAY_DEFAULTS_RATE_LIMIT=50", func(c Config) any { return c.Defaults.RateLimit }, 50},
		{"GATEWAY_DEFAULTS_MAX_SUBACCOUNTS=5", func(c Config) any { return c.Defaults.MaxSubaccounts }, 5},
		{"GATEWAY_DEFAULTS_MAX_DEPTH=10", func(c Config) any { return c.Defaults.MaxDepth }, 10},
		{"GATEWAY_DEFAULTS_TOKEN_GRACE=0s", func(c Config) any { return c.Defaults.TokenGrace.Std() }, time.Duration(0)},
		{"GATEWAY_DEFAULTS_CLOSED_RETENTION=48h", func(c Config) any { return c.Defaults.ClosedRetention.Std() }, 48 * time.Hour},
		{"GATEWAY_LIMITS_MAX_BODY_BYTES=2048", func(c Config) any { return c.Limits.MaxBodyBytes }, 2048},
		{"GATEWAY_LIMITS_AUTH_FAILURES_PER_MINUTE=3", func(c Config) any { return c.Limits.AuthFailuresPerMinute }, 3},
		{"GATEWAY_LIMITS_CACHE_BYTES=1024", func(c Config) any { return c.Limits.CacheBytes }, 1024},
		{"GATEWAY_LIMITS_NEGATIVE_CACHE_TTL=1s", func(c Config) any { return c.Limits.NegativeCacheTTL.Std() }, time.Second},
		{"GATEWAY_LIMITS_REFUND_MARKER_TTL=24h", func(c Config) any { return c.Limits.RefundMarkerTTL.Std() }, 24 * time.Hour},
		{"GATEWAY_LIMITS_USAGE_RETENTION=1000h", func(c Config) any { return c.Limits.UsageRetention.Std() }, 1000 * time.Hour},
		{"GATEWAY_LIMITS_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7", func(c Config) any { return c.Limits.TrustedProxies }, []string{"10.0.0.0/8", "192.0.2.7"}},
		{"GATEWAY_LOG_FORMAT=json", func(c Config) any { return c.Log.Format }, "json"},
		{"GATEWAY_LOG_LEVEL=debug", func(c Config) any { return c.Log.Level }, "debug"},
	} {
		c, err := Load(file, []string{"PATH=/bin", tc.env, "GATEWAY_OPERATOR_TOKEN=secret"})
		if err != nil {
			t.Errorf("%s: %v", tc.env, err)
			continue
		}
		if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.env, got, tc.want)
		}
	}
}

func TestEnvSelectsTheStore(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want func(Store) bool
	}{
		{[]string{"GATEWAY_STORE_REDIS=redis://r:6379/2"}, func(s Store) bool { return s.Redis == "redis://r:6379/2" && !s.Embedded() }},
		{[]string{"GATEWAY_STORE_SENTINEL_MASTER=mymaster", "GATEWAY_STORE_SENTINEL_ADDRS=s1:26379,s2:26379"},
			func(s Store) bool {
				return s.Sentinel.Master == "mymaster" && slices.Equal(s.Sentinel.Addrs, []string{"s1:26379", "s2:26379"})
			}},
		// The environment wins over the file, and a later entry over an earlier one.
		{[]string{"GATEWAY_STORE_CLUSTER=", "GATEWAY_STORE_REDIS=redis://a:1", "GATEWAY_STORE_REDIS=rediss://b:2"},
			func(s Store) bool { return s.Redis == "rediss://b:2" && len(s.Cluster) == 0 }},
	} {
		c, err := Load(writeConfig(t, "store: {cluster: [\"c1:7000\"]}\n"), append(tc.env, "GATEWAY_STORE_CLUSTER="))
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if !tc.want(c.Store) {
			t.Errorf("%v: store = %+v", tc.env, c.Store)
		}
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown variable", []string{"GATEWAY_LISTEN_ADDR=:1"}, []string{"GATEWAY_LISTEN_ADDR: not a setting"}},
		{"not an integer", []string{"GATEWAY_DEFAULTS_RATE_LIMIT=fast"}, []string{`GATEWAY_DEFAULTS_RATE_LIMIT: "fast" is not an integer`}},
		{"empty integer", []string{"GATEWAY_STORE_POOL_SIZE="}, []string{`GATEWAY_STORE_POOL_SIZE: "" is not an integer`}},
		{"not a duration", []string{"GATEWAY_STORE_DIAL_TIMEOUT=2"}, []string{`GATEWAY_STORE_DIAL_TIMEOUT: "2" is not a duration`}},
		{"negative duration", []string{"GATEWAY_DEFAULTS_TOKEN_GRACE=-1s"}, []string{`GATEWAY_DEFAULTS_TOKEN_GRACE: "-1s" is negative`}},
		{"every bad variable", []string{"GATEWAY_X=1", "GATEWAY_Y=2"}, []string{"GATEWAY_X: not a setting", "GATEWAY_Y: not a setting"}},
		{"valid syntax, invalid value", []string{"GATEWAY_DEFAULTS_MAX_DEPTH=50"},
			[]string{"defaults.max_depth: must be between 1 and 10, got 50 (GATEWAY_DEFAULTS_MAX_DEPTH)"}},
		{"invalid store from the environment", []string{"GATEWAY_STORE_REDIS=localhost:6379"},
			[]string{`store.redis: "localhost:6379" must start with redis://, rediss:// or unix:// (GATEWAY_STORE_REDIS)`}},
		{"bad log level", []string{"GATEWAY_LOG_LEVEL=loud"}, []string{`log.level: "loud" is not one of`, "(GATEWAY_LOG_LEVEL)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", tc.env)
			if err == nil {
				t.Fatalf("no error for %v", tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestEnvIgnoresOtherVariables(t *testing.T) {
	c, err := Load("", []string{"GATEWAY_OPERATOR_TOKEN=x", "HOME=/root", "gateway_listen=:1", "NOEQUALS", "XGATEWAY_LISTEN=:1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" {
		t.Errorf("listen = %q, want the default", c.Listen)
	}
}

// TestEnvNames pins the variable names, which are part of the contract.
func TestEnvNames(t *testing.T) {
	var got []string
	for _, s := range envSettings {
		got = append(got, EnvName(s.setting))
	}
	want := []string{
		"GATEWAY_LISTEN", "GATEWAY_OPERATOR_LISTEN", "GATEWAY_OPERATOR_TOKEN_FILE", "GATEWAY_SANDBOX_PIPELINE",
		"GATEWAY_STORE_REDIS", "GATEWAY_STORE_CLUSTER", "GATEWAY_STORE_SENTINEL_MASTER", "GATEWAY_STORE_SENTINEL_ADDRS",
		"GATEWAY_STORE_DATA_DIR", "GATEWAY_STORE_DIAL_TIMEOUT", "GATEWAY_STORE_READ_TIMEOUT", "GATEWAY_STORE_WRITE_TIMEOUT",
		"GATEWAY_STORE_POOL_SIZE",
		"GATEWAY_DEFAULTS_RATE_LIMIT", "GATEWAY_DEFAULTS_MAX_SUBACCOUNTS", "GATEWAY_DEFAULTS_MAX_DEPTH",
		"GATEWAY_DEFAULTS_TOKEN_GRACE", "GATEWAY_DEFAULTS_CLOSED_RETENTION",
		"GATEWAY_LIMITS_MAX_BODY_BYTES", "GATEWAY_LIMITS_AUTH_FAILURES_PER_MINUTE", "GATEWAY_LIMITS_CACHE_BYTES",
		"GATEWAY_LIMITS_NEGATIVE_CACHE_TTL", "GATEWAY_LIMITS_TRUSTED_PROXIES", "GATEWAY_LIMITS_REFUND_MARKER_TTL",
		"GATEWAY_LIMITS_USAGE_RETENTION", "GATEWAY_LIMITS_HOLD_RETENTION",
		"GATEWAY_LOG_FORMAT", "GATEWAY_LOG_LEVEL",
	}
	if !slices.Equal(got, want) {
		t.Errorf("variables = %v\nwant %v", got, want)
	}
}

// TestEnvTableMatchesTheStruct checks that every scalar setting, found
// through the yaml tags, has exactly one table entry, and that the entry
// points at that very field.
func TestEnvTableMatchesTheStruct(t *testing.T) {
	var c Config
	fields := make(map[string]uintptr) // setting path → field address
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			key := yamlKey(v.Type().Field(i))
			if key == "" {
				continue
			}
			f := v.Field(i)
			switch {
			case f.Kind() == reflect.Struct:
				walk(f, join(path, key))
			case f.Kind() == reflect.Map, f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
				// upstreams and routes: not scalar, no variable
			default:
				fields[join(path, key)] = f.Addr().Pointer()
			}
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")

	seen := make(map[string]bool)
	for _, s := range envSettings {
		if seen[s.setting] {
			t.Errorf("%s listed twice", s.setting)
		}
		seen[s.setting] = true
		addr, ok := fields[s.setting]
		if !ok {
			t.Errorf("%s is not a scalar setting", s.setting)
			continue
		}
		if got := reflect.ValueOf(s.field(&c)).Pointer(); got != addr {
			t.Errorf("%s points at the wrong field", s.setting)
		}
		if err := setFromEnv(s.field(&c), "1s"); err != nil && !strings.Contains(err.Error(), "not an integer") {
			t.Errorf("%s: its type cannot be set from the environment: %v", s.setting, err)
		}
	}
	for setting := range fields {
		if !seen[setting] {
			t.Errorf("%s has no environment variable", setting)
		}
	}
}
