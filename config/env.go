package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EnvPrefix starts the name of every environment variable the gateway reads.
const EnvPrefix = "GATEWAY_"

// EnvOperatorToken holds the operator token (API.md §6). It is a secret,
// not a setting: Load ignores it, and main reads it itself.
const EnvOperatorToken = "GATEWAY_OPERATOR_TOKEN"

// envIgnored are GATEWAY_ variables that are not settings and that Load
// leaves alone.
var envIgnored = map[string]bool{EnvOperatorToken: true}

// envSettings lists every scalar setting by its path; EnvName gives the
// variable that overrides it. field returns a pointer to the setting in c:
// *string (taken as is), *int, *Duration, or *[]string (comma-separated).
var envSettings = []struct {
	setting string
	field   func(c *Config) any
}{
	{"listen", func(c *Config) any { return &c.Listen }},
	{"operator_listen", func(c *Config) any { return &c.OperatorListen }},
	{"operator_token_file", func(c *Config) any { return &c.OperatorTokenFile }},
	{"sandbox_pipeline", func(c *Config) any { return &c.SandboxPipeline }},
	{"store.redis", func(c *Config) any { return &c.Store.Redis }},
	{"store.cluster", func(c *Config) any { return &c.Store.Cluster }},
	{"store.sentinel.master", func(c *Config) any { return &c.Store.Sentinel.Master }},
	{"store.sentinel.addrs", func(c *Config) any { return &c.Store.Sentinel.Addrs }},
	{"store.data_dir", func(c *Config) any { return &c.Store.DataDir }},
	{"store.dial_timeout", func(c *Config) any { return &c.Store.DialTimeout }},
	{"store.read_timeout", func(c *Config) any { return &c.Store.ReadTimeout }},
	{"store.write_timeout", func(c *Config) any { return &c.Store.WriteTimeout }},
	{"store.pool_size", func(c *Config) any { return &c.Store.PoolSize }},
	{"defaults.rate_limit", func(c *Config) any { return &c.Defaults.RateLimit }},
	{"defaults.max_subaccounts", func(c *Config) any { return &c.Defaults.MaxSubaccounts }},
	{"defaults.max_depth", func(c *Config) any { return &c.Defaults.MaxDepth }},
	{"defaults.token_grace", func(c *Config) any { return &c.Defaults.TokenGrace }},
	{"defaults.closed_retention", func(c *Config) any { return &c.Defaults.ClosedRetention }},
	{"limits.max_body_bytes", func(c *Config) any { return &c.Limits.MaxBodyBytes }},
	{"limits.auth_failures_per_minute", func(c *Config) any { return &c.Limits.AuthFailuresPerMinute }},
	{"limits.cache_bytes", func(c *Config) any { return &c.Limits.CacheBytes }},
	{"limits.negative_cache_ttl", func(c *Config) any { return &c.Limits.NegativeCacheTTL }},
	{"limits.trusted_proxies", func(c *Config) any { return &c.Limits.TrustedProxies }},
	{"limits.refund_marker_ttl", func(c *Config) any { return &c.Limits.RefundMarkerTTL }},
	{"limits.usage_retention", func(c *Config) any { return &c.Limits.UsageRetention }},
	{"limits.hold_retention", func(c *Config) any { return &c.Limits.HoldRetention }},
	{"log.format", func(c *Config) any { return &c.Log.Format }},
	{"log.level", func(c *Config) any { return &c.Log.Level }},
}

// UpstreamTokenEnv returns the environment variable that holds the token of the upstream
// name (API.md §6): "voice" → "GATEWAY_UPSTREAMS_VOICE_TOKEN" ('-' is written '_'). Like
// GATEWAY_OPERATOR_TOKEN it is a secret, not a setting: Load only checks that each such
// variable names a configured upstream, and main reads it.
func UpstreamTokenEnv(name string) string {
	return EnvPrefix + "UPSTREAMS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_TOKEN"
}

// isUpstreamTokenEnv reports whether a variable's name has the form of UpstreamTokenEnv's.
func isUpstreamTokenEnv(name string) bool {
	const pre, suf = EnvPrefix + "UPSTREAMS_", "_TOKEN"
	return len(name) > len(pre)+len(suf) && strings.HasPrefix(name, pre) && strings.HasSuffix(name, suf)
}

// checkUpstreamTokenEnv reports every upstream token variable in env that names no upstream
// of c.
func checkUpstreamTokenEnv(c *Config, env []string) error {
	known := make(map[string]bool, len(c.Upstreams))
	for name := range c.Upstreams {
		known[UpstreamTokenEnv(name)] = true
	}
	var errs []error
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if isUpstreamTokenEnv(name) && !known[name] {
			errs = append(errs, &Error{Setting: name, Reason: "names no configured upstream"})
		}
	}
	return errors.Join(errs...)
}

// EnvName returns the environment variable that overrides a setting:
// "store.dial_timeout" → "GATEWAY_STORE_DIAL_TIMEOUT".
func EnvName(setting string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(setting, ".", "_"))
}

// envIndex maps a variable's name to its entry in envSettings.
var envIndex = func() map[string]int {
	m := make(map[string]int, len(envSettings))
	for i, s := range envSettings {
		m[EnvName(s.setting)] = i
	}
	return m
}()

// applyEnv overrides settings of c from the GATEWAY_ variables in env
// ("NAME=value" entries; a later entry wins over an earlier one) and
// records each one it applied in where. An unknown GATEWAY_ variable or a
// value that does not parse is an error naming the variable.
func applyEnv(c *Config, env []string, where map[string]string) error {
	var errs []error
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || envIgnored[name] || isUpstreamTokenEnv(name) {
			continue
		}
		i, known := envIndex[name]
		if !known {
			errs = append(errs, &Error{Setting: name, Reason: "not a setting of the gateway"})
			continue
		}
		s := envSettings[i]
		if err := setFromEnv(s.field(c), value); err != nil {
			errs = append(errs, &Error{Setting: name, Reason: err.Error()})
			continue
		}
		forget(where, s.setting)
		where[s.setting] = name
	}
	return errors.Join(errs...)
}

// setFromEnv parses value into the setting p points to.
func setFromEnv(p any, value string) error {
	switch p := p.(type) {
	case *string:
		*p = value
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
		*p = n
	case *Duration:
		d, err := ParseDuration(strings.TrimSpace(value))
		if err != nil {
			return err
		}
		*p = d
	case *[]string:
		*p = nil
		for _, item := range strings.Split(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*p = append(*p, item)
			}
		}
	default:
		return fmt.Errorf("cannot be set from the environment (a %T)", p)
	}
	return nil
}

// forget drops what where says about setting and everything under it.
func forget(where map[string]string, setting string) {
	for k := range where {
		if k == setting || strings.HasPrefix(k, setting+".") || strings.HasPrefix(k, setting+"[") {
			delete(where, k)
		}
	}
}
