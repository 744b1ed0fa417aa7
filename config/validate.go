package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantgw/gateway/policy/model"
)

// Validate reports every problem with c, one *Error per problem, each
// naming the setting and the reason, e.g.
//
//	routes[2].price: "1e3" is not a decimal amount with at most 6 fraction digits
//	upstreams.voice.timeout: must be > 0
//
// Several problems are joined with errors.Join. Validate does not change c.
// In the sandbox an upstream's URL may be empty, since main fills it in.
func (c *Config) Validate() error { return joinErrors(c.problems()) }

// problems is Validate's list.
func (c *Config) problems() []*Error {
	var v validator
	v.address("listen", c.Listen, true)
	v.address("operator_listen", c.OperatorListen, true)
	if c.Listen == c.OperatorListen && !strings.HasSuffix(c.Listen, ":0") {
		v.add("operator_listen", "is the same address as listen")
	}
	v.store(&c.Store)
	v.defaults(&c.Defaults)
	v.limits(&c.Limits)
	v.between("sandbox_pipeline", c.SandboxPipeline, 0, DefaultMaxConns)
	v.upstreams(c.Upstreams, c.Sandbox)
	v.routes(c.Routes, c.Upstreams)
	v.markerTTL(c.Limits.RefundMarkerTTL, c.Upstreams)
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	return v.errs
}

type validator struct{ errs []*Error }

func (v *validator) add(setting, format string, args ...any) {
	v.errs = append(v.errs, &Error{Setting: setting, Reason: fmt.Sprintf(format, args...)})
}

// address checks a host:port; a listen address may leave the host out
// (all interfaces) and use port 0 (any free port).
func (v *validator) address(setting, s string, listen bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(setting, "%q is not host:port", s)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		v.add(setting, "%q has no valid port", s)
	}
	if host == "" && !listen {
		v.add(setting, "%q has no host", s)
	}
}

func (v *validator) store(s *Store) {
	set := 0
	for _, on := range []bool{s.Redis != "", len(s.Cluster) > 0, s.Sentinel.Master != ""} {
		if on {
			set++
		}
	}
	if set > 1 {
		v.add("store", "set only one of store.redis, store.cluster and store.sentinel.master")
	}
	if s.Redis != "" {
		v.redisURL("store.redis", s.Redis)
	}
	for i, a := range s.Cluster {
		v.address(fmt.Sprintf("store.cluster[%d]", i), a, false)
	}
	switch {
	case s.Sentinel.Master != "" && len(s.Sentinel.Addrs) == 0:
		v.add("store.sentinel.addrs", "required with store.sentinel.master")
	case s.Sentinel.Master == "" && len(s.Sentinel.Addrs) > 0:
		v.add("store.sentinel.master", "required with store.sentinel.addrs")
	}
	for i, a := range s.Sentinel.Addrs {
		v.address(fmt.Sprintf("store.sentinel.addrs[%d]", i), a, false)
	}
	if s.Embedded() && s.DataDir == "" {
		v.add("store.data_dir", "required for the embedded store")
	}
	v.positive("store.dial_timeout", int64(s.DialTimeout))
	v.positive("store.read_timeout", int64(s.ReadTimeout))
	v.positive("store.write_timeout", int64(s.WriteTimeout))
	if s.PoolSize < 0 {
		v.add("store.pool_size", "must not be negative")
	}
}

// redisURL checks a redis://, rediss:// or unix:// URL without ever repeating its
// password.
func (v *validator) redisURL(setting, s string) {
	u, err := url.Parse(s)
	if err != nil {
		v.add(setting, "is not a URL such as redis://host:6379/0")
		return
	}
	switch {
	case u.Scheme == "unix":
		// unix:///path/to/redis.sock, optionally ?db=N (go-redis's form)
		switch {
		case u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/"):
			v.add(setting, "%q: a unix URL names the socket by its absolute path, as in unix:///run/redis/redis.sock", u.Redacted())
		case u.Query().Has("db"):
			if n, err := strconv.Atoi(u.Query().Get("db")); err != nil || n < 0 {
				v.add(setting, "%q: db must be a database number", u.Redacted())
			}
		}
	case u.Scheme != "redis" && u.Scheme != "rediss":
		v.add(setting, "%q must start with redis://, rediss:// or unix://", u.Redacted())
	case u.Host == "":
		v.add(setting, "%q has no host", u.Redacted())
	default:
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				v.add(setting, "%q: the path must be a database number", u.Redacted())
			}
		}
	}
}

func (v *validator) defaults(d *Defaults) {
	v.between("defaults.rate_limit", d.RateLimit, 1, 1_000_000)
	if d.MaxSubaccounts < 1 {
		v.add("defaults.max_subaccounts", "must be at least 1, got %d", d.MaxSubaccounts)
	}
	v.between("defaults.max_depth", d.MaxDepth, 1, 10)
	if d.TokenGrace < 0 {
		v.add("defaults.token_grace", "must not be negative")
	}
	v.positive("defaults.closed_retention", int64(d.ClosedRetention))
}

func (v *validator) limits(l *Limits) {
	v.positive("limits.max_body_bytes", int64(l.MaxBodyBytes))
	v.positive("limits.auth_failures_per_minute", int64(l.AuthFailuresPerMinute))
	v.positive("limits.cache_bytes", int64(l.CacheBytes))
	v.positive("limits.negative_cache_ttl", int64(l.NegativeCacheTTL))
	for i, p := range l.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.add(fmt.Sprintf("limits.trusted_proxies[%d]", i), "%q is not an IP address or a network such as 10.0.0.0/8", p)
		}
	}
	// at least a month: every day of the last month is reported by day
	if l.UsageRetention.Std() < MinUsageRetention {
		v.add("limits.usage_retention", "%v is too short: at least %v (31 days)", l.UsageRetention.Std(), MinUsageRetention)
	}
	v.positive("limits.hold_retention", int64(l.HoldRetention))
}

// call checks a route's call block (p is its setting, "routes[0].call").
func (v *validator) call(p string, c *Call) {
	var tf model.Tariff
	switch {
	case c.Rate == "":
		v.add(p+".rate", `required (the price of a minute, such as "0.0120")`)
	case c.Rate.check() != nil:
		v.add(p+".rate", "%s", c.Rate.check())
	default:
		tf.Rate, _ = model.ParseAmount(string(c.Rate))
	}
	if err := c.ConnectFee.check(); c.ConnectFee == "" || err != nil {
		v.add(p+".connect_fee", "%q is not a decimal amount with at most 6 fraction digits", string(c.ConnectFee))
	} else {
		tf.ConnectFee, _ = model.ParseAmount(string(c.ConnectFee))
	}
	var err error
	if tf.First, tf.Next, err = model.ParseIncrement(c.Increment); err != nil {
		v.add(p+".increment", "%q is %s", c.Increment, err)
	}
	for _, d := range []struct {
		name string
		d    Duration
		min  time.Duration
	}{{"grant", c.Grant, time.Second}, {"min_duration", c.MinDuration, time.Second},
		{"max_duration", c.MaxDuration, time.Second}, {"ring_timeout", c.RingTimeout, 0}, {"expiry_grace", c.ExpiryGrace, 0}} {
		switch {
		case d.d.Std()%time.Second != 0:
			v.add(p+"."+d.name, "%v is not a whole number of seconds", d.d)
		case d.d.Std() < d.min:
			v.add(p+"."+d.name, "must be at least %v", d.min)
		}
	}
	switch {
	case c.MaxDuration.Std() > MaxCallDuration:
		v.add(p+".max_duration", "%v is too long: at most %v", c.MaxDuration, MaxCallDuration)
	case c.MinDuration > c.MaxDuration:
		v.add(p+".min_duration", "%v is longer than max_duration (%v)", c.MinDuration, c.MaxDuration)
	case c.MinDuration > c.Grant:
		v.add(p+".min_duration", "%v is longer than grant (%v): every call would be refused", c.MinDuration, c.Grant)
	case tf.First > 0 && !tf.Covers(int64(c.MaxDuration.Std()/time.Second)):
		v.add(p+".rate", "%s for max_duration (%v) costs more than 9,007,199,254.740991", c.Rate, c.MaxDuration)
	}
	v.oneOf(p+".on_expiry", c.OnExpiry, "commit", "release")
}

// markerTTL checks that refund markers outlive every exchange with an upstream by a margin:
// a refund or a settlement comes after the upstream answered or timed out.
func (v *validator) markerTTL(ttl Duration, ups map[string]Upstream) {
	longest := Duration(0)
	for _, u := range ups {
		longest = max(longest, u.Timeout)
	}
	if min := longest + Duration(time.Minute); ttl < min {
		v.add("limits.refund_marker_ttl", "%v is too short: at least the longest upstream timeout (%v) plus 1m",
			ttl.Std(), longest.Std())
	}
}

// ParsePrefix reads a trusted proxy: an address ("10.0.0.5", a one-address network) or a
// network in CIDR form ("10.0.0.0/8", "fd00::/8").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (v *validator) upstreams(ups map[string]Upstream, sandbox bool) {
	if len(ups) == 0 {
		v.add("upstreams", "none configured")
	}
	names := make([]string, 0, len(ups))
	for name := range ups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		u, p := ups[name], "upstreams."+name
		if !upstreamName.MatchString(name) {
			v.add("upstreams", "%q is not a name of letters, digits, '-' and '_'", name)
		}
		switch {
		case u.URL == "" && !sandbox:
			v.add(p+".url", "required")
		case u.URL != "":
			v.upstreamURL(p+".url", u.URL)
		}
		v.positive(p+".timeout", int64(u.Timeout))
		v.positive(p+".connect_timeout", int64(u.ConnectTimeout))
		v.positive(p+".max_conns", int64(u.MaxConns))
		v.positive(p+".max_response_bytes", int64(u.MaxResponseBytes))
		if u.MaxConns > 0 {
			v.between(p+".pipeline", u.Pipeline, 0, u.MaxConns)
		}
		if u.PipelineDelay.Std() > MaxPipelineDelay {
			v.add(p+".pipeline_delay", "must be at most %s, got %s", MaxPipelineDelay, u.PipelineDelay)
		}
	}
}

func (v *validator) upstreamURL(setting, s string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.add(setting, "%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(setting, "%q must start with http:// or https://", u.Redacted())
	case u.Host == "":
		v.add(setting, "%q has no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		v.add(setting, "%q must not have a query or a fragment", u.Redacted())
	case u.Path != "" && u.Path != "/":
		// The gateway forwards each request's own path to the upstream's host.
		v.add(setting, "%q must not have a path", u.Redacted())
	case u.User != nil:
		v.add(setting, "%q must not hold a user or password", u.Redacted())
	}
}

// permissions are the account flags a route may need (API.md §4).
var permissions = []string{"calls", "sms", "cdr"}

func (v *validator) routes(routes []Route, ups map[string]Upstream) {
	if len(routes) == 0 {
		v.add("routes", "none configured")
	}
	byMethodPath := make(map[string]int)
	byName := make(map[string]int)
	for i, r := range routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Method == "":
			v.add(p+".method", "required")
		case !isMethod(r.Method):
			v.add(p+".method", "%q is not an HTTP method", r.Method)
		}
		if reason := checkPath(r.Path); reason != "" {
			v.add(p+".path", "%s", reason)
		}
		if r.Upstream == "" {
			v.add(p+".upstream", "required")
		} else if _, ok := ups[r.Upstream]; !ok {
			v.add(p+".upstream", "no upstream named %q", r.Upstream)
		}
		if r.Permission == "" {
			v.add(p+".permission", "required")
		} else if !slices.Contains(permissions, r.Permission) {
			v.add(p+".permission", "%q is not one of %s", r.Permission, quoteAll(permissions))
		}
		if r.Price == "" {
			v.add(p+".price", `required ("0" for a free route)`)
		} else if err := r.Price.check(); err != nil {
			v.add(p+".price", "%s", err)
		}
		if r.CallerID != "" && !validFieldName(r.CallerID) {
			v.add(p+".caller_id", "%q is not a field name (letters, digits, '_', '-', '.'; at most 64)", r.CallerID)
		}
		if r.Call != nil {
			v.call(p+".call", r.Call)
		}
		key := r.Method + " " + r.Path
		if j, dup := byMethodPath[key]; dup {
			v.add(p, "same method and path as routes[%d] (%s)", j, key)
			continue // its derived name would repeat the same news
		}
		byMethodPath[key] = i
		if r.Name == "" {
			v.add(p+".name", "required")
		} else if strings.ContainsAny(r.Name, "|\n\r") {
			// '|' separates the parts of the store's usage counters (package balance).
			v.add(p+".name", "%q must not contain '|' or line breaks", r.Name)
		} else if j, dup := byName[r.Name]; dup {
			v.add(p+".name", "%q is also the name of routes[%d]", r.Name, j)
		} else {
			byName[r.Name] = i
		}
	}
}

// validFieldName reports whether s may name a route's caller-ID field.
func validFieldName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkPath returns why p is not a valid route path template, or "".
func checkPath(p string) string {
	if p == "" {
		return "required"
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("%q must start with \"/\"", p)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '?' || r == '#' }); i >= 0 {
		return fmt.Sprintf("%q must not contain %q", p, p[i:i+1])
	}
	segments := strings.Split(p[1:], "/")
	authIDs := 0
	for i, s := range segments {
		switch {
		case s == "{auth_id}":
			authIDs++
		case strings.Contains(s, "{auth_id}"):
			return fmt.Sprintf("%q: {auth_id} must be a whole path segment", p)
		case strings.ContainsAny(s, "{}"):
			return fmt.Sprintf("%q: {auth_id} is the only placeholder a path may hold", p)
		case s == "" && i < len(segments)-1:
			return fmt.Sprintf("%q has an empty segment", p)
		case s == "." || s == "..":
			return fmt.Sprintf("%q has a %q segment", p, s)
		}
	}
	switch {
	case authIDs == 0:
		return fmt.Sprintf("%q has no {auth_id} segment", p)
	case authIDs > 1:
		return fmt.Sprintf("%q holds {auth_id} more than once", p)
	case shadowsManagement(p):
		return fmt.Sprintf("%q collides with the account-management paths /v1/Account/{auth_id}/ and its Subaccount/, Balance/, Transfer/, CreditTransfer/, Usage/ and Hold/", p)
	}
	return ""
}

// shadowsManagement reports whether route path p would take requests meant
// for the account-management API (API.md §4), ignoring case and a final "/".
func shadowsManagement(p string) bool {
	const account = "/v1/account/{auth_id}"
	p = strings.TrimSuffix(strings.ToLower(p), "/")
	if p == account {
		return true
	}
	for _, sub := range []string{"subaccount", "balance", "transfer", "credittransfer", "usage", "hold"} {
		if q := account + "/" + sub; p == q || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// isMethod reports whether s is a route's method: upper-case letters A to Z only (Load
// upper-cases methods), as every method of the API is.
func isMethod(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func (v *validator) positive(setting string, n int64) {
	if n <= 0 {
		v.add(setting, "must be > 0")
	}
}

func (v *validator) between(setting string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(setting, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) oneOf(setting, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.add(setting, "%q is not one of %s", s, quoteAll(allowed))
	}
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
