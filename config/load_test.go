package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a configuration file for one test and returns its path.
func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// apiExample is the example of API.md §7.
const apiExample = `
listen: ":8080"
operator_listen: "127.0.0.1:8081"
operator_token_file: ""
store:
  redis: ""                 # "" = embedded store; "redis://host:port/db" = a Redis server
  cluster: []               # ["host:port", ...] = Redis Cluster seed nodes
  sentinel: {master: "", addrs: []}
  data_dir: "./data"        # where the embedded store persists
defaults: {rate_limit: 1000, max_subaccounts: 1000, max_depth: 3, token_grace: 24h, closed_retention: 720h}
limits: {max_body_bytes: 1048576, auth_failures_per_minute: 30}
upstreams:
  voice: {url: "http://127.0.0.1:9001", timeout: 10s, max_conns: 512}
  sms:   {url: "http://127.0.0.1:9002", timeout: 10s, max_conns: 512}
routes:
  - {method: POST, path: "/v1/Account/{auth_id}/Call/",    upstream: voice, permission: calls, kyc: true, price: "0.0100"}
  - {method: GET,  path: "/v1/Account/{auth_id}/Call/",    upstream: voice, permission: cdr,   price: "0"}
  - {method: POST, path: "/v1/Account/{auth_id}/Message/", upstream: sms,   permission: sms,   price: "0.0050"}
`

func TestLoadWithoutFileGivesDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\", nil) = %+v\nwant Default() = %+v", c, Default())
	}
	// The documented defaults, one by one (API.md §7 and the field comments).
	for _, tc := range []struct {
		setting   string
		got, want any
	}{
		{"listen", c.Listen, ":8080"},
		{"operator_listen", c.OperatorListen, "127.0.0.1:8081"},
		{"operator_token_file", c.OperatorTokenFile, ""},
		{"store.redis", c.Store.Redis, ""},
		{"store.data_dir", c.Store.DataDir, "./data"},
		{"store.dial_timeout", c.Store.DialTimeout.Std(), 2 * time.Second},
		{"store.read_timeout", c.Store.ReadTimeout.Std(), time.Second},
		{"store.write_timeout", c.Store.WriteTimeout.Std(), time.Second},
		{"store.pool_size", c.Store.PoolSize, 0},
		{"defaults.rate_limit", c.Defaults.RateLimit, 1000},
		{"defaults.max_subaccounts", c.Defaults.MaxSubaccounts, 1000},
		{"defaults.max_depth", c.Defaults.MaxDepth, 3},
		{"defaults.token_grace", c.Defaults.TokenGrace.Std(), 24 * time.Hour},
		{"defaults.closed_retention", c.Defaults.ClosedRetention.Std(), 720 * time.Hour},
		{"limits.max_body_bytes", c.Limits.MaxBodyBytes, 1048576},
		{"limits.auth_failures_per_minute", c.Limits.AuthFailuresPerMinute, 30},
		{"limits.cache_bytes", c.Limits.CacheBytes, 64 << 20},
		{"limits.negative_cache_ttl", c.Limits.NegativeCacheTTL.Std(), 5 * time.Second},
		{"limits.refund_marker_ttl", c.Limits.RefundMarkerTTL.Std(), time.Hour},
		{"limits.usage_retention", c.Limits.UsageRetention.Std(), 2160 * time.Hour},
		{"log.format", c.Log.Format, "text"},
		{"log.level", c.Log.Level, "info"},
		{"store embedded", c.Store.Embedded(), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.setting, tc.got, tc.want)
		}
	}
}

func TestLoadSandboxDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sandbox {
		t.Error("Sandbox = false with no upstreams configured")
	}
	want := map[string]Upstream{
		"voice": {Timeout: Duration(10 * time.Second), ConnectTimeout: Duration(2 * time.Second), MaxConns: 512, MaxResponseBytes: 10 << 20, Pipeline: 2, PipelineDelay: Duration(50 * time.Microsecond)},
		"sms":   {Timeout: Duration(10 * time.Second), ConnectTimeout: Duration(2 * time.Second), MaxConns: 512, MaxResponseBytes: 10 << 20, Pipeline: 2, PipelineDelay: Duration(50 * time.Microsecond)},
	}
	if !reflect.DeepEqual(c.Upstreams, want) {
		t.Errorf("Upstreams = %+v, want %+v", c.Upstreams, want)
	}
	wantRoutes := []Route{
		{Name: "call.create", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", KYC: true, Price: "0.0100"},
		{Name: "call.list", Method: "GET", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "cdr", Price: "0"},
		{Name: "message.create", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0.0050"},
	}
	if !reflect.DeepEqual(c.Routes, wantRoutes) {
		t.Errorf("Routes = %+v\nwant %+v", c.Routes, wantRoutes)
	}

	// main fills the sandbox URLs in; the result must still validate.
	for name, u := range c.Upstreams {
		u.URL = "http://127.0.0.1:1"
		c.Upstreams[name] = u
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after filling the sandbox URLs: %v", err)
	}
	// Default values share nothing.
	if Default().Upstreams["voice"].URL != "" {
		t.Error("changing one Config changed Default()")
	}
}

func TestLoadSandboxWithOwnRoutes(t *testing.T) {
	c, err := Load(writeConfig(t, `
routes:
  - {method: post, path: "/v1/Account/{auth_id}/Fax/", upstream: voice, permission: calls, price: 0.25}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sandbox || len(c.Upstreams) != 2 || len(c.Routes) != 1 {
		t.Fatalf("Sandbox=%v upstreams=%d routes=%d, want true 2 1", c.Sandbox, len(c.Upstreams), len(c.Routes))
	}
	if r := c.Routes[0]; r.Method != "POST" || r.Name != "POST /v1/Account/{auth_id}/Fax/" || r.Price != "0.25" {
		t.Errorf("route = %+v, want method POST, derived name, price 0.25", r)
	}
}

// TestLoadSandboxPipeline: sandbox_pipeline (file or environment) sets the sandbox upstreams'
// pipeline, 0 making them plain keep-alive backends; configured upstreams ignore it.
func TestLoadSandboxPipeline(t *testing.T) {
	c, err := Load(writeConfig(t, "sandbox_pipeline: 0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, u := range c.Upstreams {
		if u.Pipeline != 0 {
			t.Errorf("sandbox_pipeline 0: upstream %s pipeline %d, want 0", name, u.Pipeline)
		}
	}
	c, err = Load("", []string{"GATEWAY_SANDBOX_PIPELINE=7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SandboxPipeline != 7 || c.Upstreams["voice"].Pipeline != 7 || c.Upstreams["sms"].Pipeline != 7 {
		t.Errorf("GATEWAY_SANDBOX_PIPELINE=7: %d, upstreams %+v", c.SandboxPipeline, c.Upstreams)
	}
	c, err = Load(writeConfig(t, apiExample+"sandbox_pipeline: 0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox || c.Upstreams["voice"].Pipeline != 0 {
		t.Errorf("configured upstreams: sandbox %v, voice %+v", c.Sandbox, c.Upstreams["voice"])
	}
}

func TestLoadAPIExample(t *testing.T) {
	c, err := Load(writeConfig(t, apiExample), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox {
		t.Error("Sandbox = true with upstreams configured")
	}
	voice := c.Upstreams["voice"]
	if voice.URL != "http://127.0.0.1:9001" || voice.Timeout.Std() != 10*time.Second || voice.MaxConns != 512 {
		t.Errorf("voice = %+v", voice)
	}
	// What the file leaves out of an upstream keeps its default.
	if voice.ConnectTimeout.Std() != 2*time.Second || voice.MaxResponseBytes != 10<<20 {
		t.Errorf("voice defaults lost: %+v", voice)
	}
	// ... and so does what it leaves out of a section.
	if c.Limits.CacheBytes != 64<<20 || c.Store.DialTimeout.Std() != 2*time.Second {
		t.Errorf("section defaults lost: limits %+v store %+v", c.Limits, c.Store)
	}
	names := []string{"POST /v1/Account/{auth_id}/Call/", "GET /v1/Account/{auth_id}/Call/", "POST /v1/Account/{auth_id}/Message/"}
	for i, r := range c.Routes {
		if r.Name != names[i] {
			t.Errorf("routes[%d].name = %q, want %q", i, r.Name, names[i])
		}
	}
	if !c.Routes[0].KYC || c.Routes[1].KYC || c.Routes[0].Price != "0.0100" || c.Routes[1].Price != "0" {
		t.Errorf("routes = %+v", c.Routes)
	}
}

func TestLoadPriceIsTheLiteralText(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`0.0100`, "0.0100"},
		{`"0.0100"`, "0.0100"},
		{`'0.0100'`, "0.0100"},
		{`10.50`, "10.50"},
		{`0.000125`, "0.000125"},
		{`1`, "1"},
		{`0`, "0"},
		{`999999999.999999`, "999999999.999999"},
	} {
		c, err := Load(writeConfig(t, `routes: [{method: POST, path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: calls, price: `+tc.yaml+`}]`), nil)
		if err != nil {
			t.Errorf("price: %s: %v", tc.yaml, err)
			continue
		}
		if got := c.Routes[0].Price; got != Money(tc.want) {
			t.Errorf("price: %s gives %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

func TestLoadAnchorsAndMerge(t *testing.T) {
	c, err := Load(writeConfig(t, `
upstreams:
  voice: &base {url: "http://voice:9001", timeout: 5s, max_conns: 64}
  sms:
    <<: *base
    url: "http://sms:9002"
  fax:
    <<: [{timeout: 1s}, *base]
    url: "http://fax:9003"
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Upstream{
		"voice": {URL: "http://voice:9001", Timeout: Duration(5 * time.Second), ConnectTimeout: Duration(2 * time.Second), MaxConns: 64, MaxResponseBytes: 10 << 20, PipelineDelay: Duration(DefaultPipelineDelay)},
		"sms":   {URL: "http://sms:9002", Timeout: Duration(5 * time.Second), ConnectTimeout: Duration(2 * time.Second), MaxConns: 64, MaxResponseBytes: 10 << 20, PipelineDelay: Duration(DefaultPipelineDelay)},
		"fax":   {URL: "http://fax:9003", Timeout: Duration(time.Second), ConnectTimeout: Duration(2 * time.Second), MaxConns: 64, MaxResponseBytes: 10 << 20, PipelineDelay: Duration(DefaultPipelineDelay)},
	} {
		if got := c.Upstreams[name]; got != want {
			t.Errorf("upstreams.%s = %+v, want %+v", name, got, want)
		}
	}
}

func TestLoadNullAndEmptyKeepDefaults(t *testing.T) {
	for _, yaml := range []string{"", "# only a comment\n", "---\n", "~\n", "listen: ~\nstore:\nroutes:\n"} {
		c, err := Load(writeConfig(t, yaml), nil)
		if err != nil {
			t.Errorf("%q: %v", yaml, err)
			continue
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%q: got %+v, want the defaults", yaml, c)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

const route = `{method: POST, path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: calls, price: "0.01"}`

// TestLoadErrors checks that every error names the setting and says why.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error
		not  string   // must not appear in the error
	}{
		// unknown keys
		{"unknown top-level key", "listn: \":8080\"\n", []string{"listn: unknown setting", "listen"}, ""},
		{"unknown store key", "store: {redis_url: x}\n", []string{"store.redis_url: unknown setting"}, ""},
		{"unknown sentinel key", "store: {sentinel: {name: m}}\n", []string{"store.sentinel.name: unknown setting"}, ""},
		{"unknown defaults key", "defaults: {ratelimit: 5}\n", []string{"defaults.ratelimit: unknown setting"}, ""},
		{"unknown upstream key", "upstreams: {voice: {url: \"http://v\", tiemout: 1s}}\n", []string{"upstreams.voice.tiemout: unknown setting"}, ""},
		{"unknown route key", "routes: [{method: GET, prise: 1}]\n", []string{"routes[0].prise: unknown setting"}, ""},
		{"sandbox is not a setting", "sandbox: true\n", []string{"sandbox: unknown setting"}, ""},
		{"sandbox_pipeline negative", "sandbox_pipeline: -1\n", []string{"sandbox_pipeline: must be between 0 and 512, got -1"}, ""},
		{"key set twice", "listen: \":1\"\nlisten: \":2\"\n", []string{"listen: set twice (first on line 1)"}, ""},

		// wrong types
		{"list for a string", "listen: [a]\n", []string{"listen: must be a string, not a list"}, ""},
		{"float for an integer", "defaults: {rate_limit: 1.5}\n", []string{`defaults.rate_limit: "1.5" is not an integer`}, ""},
		{"word for an integer", "limits: {max_body_bytes: lots}\n", []string{`limits.max_body_bytes: "lots" is not an integer`}, ""},
		{"word for a bool", "routes: [{kyc: maybe}]\n", []string{`routes[0].kyc: "maybe" is not true or false`}, ""},
		{"scalar for a section", "store: redis://x\n", []string{"store: must be a mapping, not a scalar"}, ""},
		{"mapping for a list", "routes: {a: 1}\n", []string{"routes: must be a list, not a mapping"}, ""},
		{"file is a list", "- a\n", []string{"gateway.yaml: must hold a mapping of settings, not a list"}, ""},
		{"two documents", "listen: \":1\"\n---\nlisten: \":2\"\n", []string{"more than one YAML document"}, ""},
		{"syntax", "listen: [\n", []string{"gateway.yaml", "line"}, ""},

		// durations
		{"duration without unit", "store: {dial_timeout: 10}\n", []string{`store.dial_timeout: "10" is not a duration`}, ""},
		{"duration word", "upstreams: {voice: {url: \"http://v\", timeout: ten}}\n", []string{`upstreams.voice.timeout: "ten" is not a duration`}, ""},
		{"negative duration", "defaults: {token_grace: -1h}\n", []string{`defaults.token_grace: "-1h" is negative`}, ""},
		{"zero timeout", "upstreams: {voice: {url: \"http://v\", timeout: 0s}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.timeout: must be > 0"}, ""},
		{"duration as list", "limits: {negative_cache_ttl: [1s]}\n", []string{"limits.negative_cache_ttl: must be a duration"}, ""},

		// prices
		{"price exponent", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: 1e3}]\n",
			[]string{`routes[0].price: "1e3" is not a decimal amount with at most 6 fraction digits`}, ""},
		{"price negative", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: -1}]\n",
			[]string{`routes[0].price: "-1" is not a decimal amount`}, ""},
		{"price 7 fraction digits", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: 0.0000001}]\n",
			[]string{`routes[0].price: "0.0000001" is not a decimal amount`}, ""},
		{"price word", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: abc}]\n",
			[]string{`routes[0].price: "abc" is not a decimal amount`}, ""},
		{"price 10 integer digits", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: \"1234567890\"}]\n",
			[]string{`routes[0].price: "1234567890" is not a decimal amount`}, ""},
		{"price missing", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls}]\n",
			[]string{`routes[0].price: required`}, ""},
		{"price mapping", "routes: [{price: {a: 1}}]\n", []string{`routes[0].price: must be a decimal amount`}, ""},

		// routes
		{"missing upstream", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Fax/\", upstream: fax, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].upstream: no upstream named "fax"`}, ""},
		{"path without auth_id", "routes: [{method: POST, path: \"/v1/Call/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path: "/v1/Call/" has no {auth_id} segment`}, ""},
		{"auth_id inside a segment", "routes: [{method: POST, path: \"/v1/Account/x{auth_id}/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "whole path segment"}, ""},
		{"other placeholder", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/{call_id}/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "only placeholder"}, ""},
		{"auth_id twice", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/{auth_id}/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "more than once"}, ""},
		{"relative path", "routes: [{method: POST, path: \"v1/Account/{auth_id}/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, `must start with "/"`}, ""},
		{"path with a query", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/?x=1\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, `must not contain "?"`}, ""},
		{"shadows the account", "routes: [{method: GET, path: \"/v1/Account/{auth_id}/\", upstream: voice, permission: cdr, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "collides with the account-management paths"}, ""},
		{"shadows Balance", "routes: [{method: GET, path: \"/v1/Account/{auth_id}/Balance/\", upstream: voice, permission: cdr, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "collides"}, ""},
		{"shadows CreditTransfer", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/CreditTransfer/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "collides", "CreditTransfer/"}, ""},
		{"shadows Subaccount subtree", "routes: [{method: POST, path: \"/v1/account/{auth_id}/subaccount/Call\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].path:`, "collides"}, ""},
		{"duplicate routes", "routes: [" + route + ", {method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: sms, permission: sms, price: \"0\"}]\n",
			[]string{`routes[1]: same method and path as routes[0] (POST /v1/Account/{auth_id}/Call/)`}, ""},
		{"duplicate routes after upper-casing", "routes: [" + route + ", {method: post, path: \"/v1/Account/{auth_id}/Call/\", upstream: sms, permission: sms, price: \"0\"}]\n",
			[]string{`routes[1]: same method and path as routes[0]`}, ""},
		{"duplicate names", "routes: [{name: call, method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: \"0\"}, {name: call, method: GET, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: cdr, price: \"0\"}]\n",
			[]string{`routes[1].name: "call" is also the name of routes[0]`}, ""},
		{"bad method", "routes: [{method: \"PO ST\", path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: calls, price: \"0\"}]\n",
			[]string{`routes[0].method: "PO ST" is not an HTTP method`}, ""},
		{"bad permission", "routes: [{method: POST, path: \"/v1/Account/{auth_id}/Call/\", upstream: voice, permission: fax, price: \"0\"}]\n",
			[]string{`routes[0].permission: "fax" is not one of "calls", "sms", "cdr"`}, ""},
		{"empty route", "routes: [{}]\n", []string{"routes[0].method: required", "routes[0].path: required", "routes[0].upstream: required", "routes[0].permission: required", "routes[0].price: required"}, ""},
		{"default routes need voice and sms", "upstreams: {fax: {url: \"http://fax\"}}\n", []string{`routes: none configured, and the default routes need an upstream named "voice"`}, ""},

		// upstreams
		{"upstream without url", "upstreams: {voice: {timeout: 1s}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.url: required"}, ""},
		{"upstream ftp url", "upstreams: {voice: {url: \"ftp://v\"}}\nroutes: [" + route + "]\n", []string{`upstreams.voice.url: "ftp://v" must start with http:// or https://`}, ""},
		{"upstream url without host", "upstreams: {voice: {url: \"http:///x\"}}\nroutes: [" + route + "]\n", []string{`upstreams.voice.url: "http:///x" has no host`}, ""},
		{"upstream max_conns", "upstreams: {voice: {url: \"http://v\", max_conns: 0}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.max_conns: must be > 0"}, ""},
		{"upstream pipeline negative", "upstreams: {voice: {url: \"http://v\", pipeline: -1}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline: must be between 0 and 512, got -1"}, ""},
		{"upstream pipeline over max_conns", "upstreams: {voice: {url: \"http://v\", max_conns: 4, pipeline: 5}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline: must be between 0 and 4, got 5"}, ""},
		{"upstream pipeline not a number", "upstreams: {voice: {url: \"http://v\", pipeline: two}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline"}, ""},
		{"upstream pipeline_delay too long", "upstreams: {voice: {url: \"http://v\", pipeline: 2, pipeline_delay: 5ms}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline_delay: must be at most 1ms, got 5ms"}, ""},
		{"upstream pipeline_delay negative", "upstreams: {voice: {url: \"http://v\", pipeline: 2, pipeline_delay: -1us}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline_delay", "negative"}, ""},
		{"upstream pipeline_delay without unit", "upstreams: {voice: {url: \"http://v\", pipeline: 2, pipeline_delay: 50}}\nroutes: [" + route + "]\n", []string{"upstreams.voice.pipeline_delay", "not a duration"}, ""},
		{"upstream name", "upstreams: {\"vo ice\": {url: \"http://v\"}}\nroutes: [" + route + "]\n", []string{`upstreams: "vo ice" is not a name`}, ""},

		// store
		{"redis and cluster", "store: {redis: \"redis://r:6379\", cluster: [\"a:1\"]}\n", []string{"store: set only one of store.redis, store.cluster and store.sentinel.master"}, ""},
		{"redis without scheme", "store: {redis: \"localhost:6379\"}\n", []string{`store.redis: "localhost:6379" must start with redis://, rediss:// or unix://`}, ""},
		{"unix socket relative", "store: {redis: \"unix://redis.sock\"}\n", []string{`store.redis: "unix://redis.sock": a unix URL names the socket by its absolute path`}, ""},
		{"unix socket no path", "store: {redis: \"unix:///\"}\n", []string{`store.redis: "unix:///": a unix URL names the socket by its absolute path`}, ""},
		{"unix socket bad db", "store: {redis: \"unix:///run/r.sock?db=x\"}\n", []string{`store.redis: "unix:///run/r.sock?db=x": db must be a database number`}, ""},
		{"redis password not repeated", "store: {redis: \"http://:s3cret@r:6379\"}\n", []string{"store.redis: ", "must start with redis://"}, "s3cret"},
		{"redis bad db", "store: {redis: \"redis://r:6379/x\"}\n", []string{"store.redis:", "database number"}, ""},
		{"cluster node without port", "store: {cluster: [\"a\"]}\n", []string{`store.cluster[0]: "a" is not host:port`}, ""},
		{"sentinel without addrs", "store: {sentinel: {master: m}}\n", []string{"store.sentinel.addrs: required with store.sentinel.master"}, ""},
		{"sentinel addrs without master", "store: {sentinel: {addrs: [\"s:26379\"]}}\n", []string{"store.sentinel.master: required with store.sentinel.addrs"}, ""},
		{"embedded without data_dir", "store: {data_dir: \"\"}\n", []string{"store.data_dir: required for the embedded store"}, ""},
		{"negative pool", "store: {pool_size: -1}\n", []string{"store.pool_size: must not be negative"}, ""},
		{"usage retention too short", "limits: {usage_retention: 24h}\n", []string{"limits.usage_retention: 24h0m0s is too short"}, ""},
		{"marker ttl below upstream timeout", "limits: {refund_marker_ttl: 30s}\n", []string{"limits.refund_marker_ttl: 30s is too short: at least the longest upstream timeout (10s) plus 1m"}, ""},
		{"marker ttl with a long upstream", "upstreams: {voice: {url: \"http://v\", timeout: 1h}}\nroutes: [" + route + "]\n", []string{"limits.refund_marker_ttl: 1h0m0s is too short", "(1h0m0s) plus 1m"}, ""},

		// listeners, defaults, limits, log
		{"listen without port", "listen: \"8080\"\n", []string{`listen: "8080" is not host:port`}, ""},
		{"listen bad port", "operator_listen: \"127.0.0.1:http\"\n", []string{`operator_listen: "127.0.0.1:http" has no valid port`}, ""},
		{"same listeners", "listen: \":9000\"\noperator_listen: \":9000\"\n", []string{"operator_listen: is the same address as listen"}, ""},
		{"rate_limit zero", "defaults: {rate_limit: 0}\n", []string{"defaults.rate_limit: must be between 1 and 1000000, got 0"}, ""},
		{"max_depth 11", "defaults: {max_depth: 11}\n", []string{"defaults.max_depth: must be between 1 and 10, got 11"}, ""},
		{"max_subaccounts 0", "defaults: {max_subaccounts: 0}\n", []string{"defaults.max_subaccounts: must be at least 1, got 0"}, ""},
		{"closed_retention 0", "defaults: {closed_retention: 0s}\n", []string{"defaults.closed_retention: must be > 0"}, ""},
		{"limit zero", "limits: {auth_failures_per_minute: 0}\n", []string{"limits.auth_failures_per_minute: must be > 0"}, ""},
		{"log format", "log: {format: xml}\n", []string{`log.format: "xml" is not one of "text", "json"`}, ""},
		{"log level", "log: {level: verbose}\n", []string{`log.level: "verbose" is not one of "debug", "info", "warn", "error"`}, ""},

		// aliases
		{"merge cycle", "upstreams: &a {<<: *a}\n", []string{"upstreams:", "<<"}, ""},
		{"merge of a scalar", "store: {<<: 1}\n", []string{"store:", "<< must merge a mapping"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.yaml), nil)
			if err == nil {
				t.Fatalf("no error for %q", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("error %q contains %q", err, tc.not)
			}
		})
	}
}

// TestLoadErrorsSayWhere checks that an error points at the file and line
// the value came from.
func TestLoadErrorsSayWhere(t *testing.T) {
	path := writeConfig(t, `upstreams:
  voice: {url: "http://v"}
routes:
  - {method: POST, path: "/v1/Account/{auth_id}/Call/", upstream: voice, permission: calls, price: "0.01"}
  - {method: POST, path: "/v1/Account/{auth_id}/Message/", upstream: voice, permission: sms,
     price: 1e3}
  - {method: GET, path: "/v1/Account/{auth_id}/Message/", upstream: sms, permission: cdr, price: "0"}
`)
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`routes[1].price: "1e3" is not a decimal amount with at most 6 fraction digits (` + path + `:6)`,
		`routes[2].upstream: no upstream named "sms" (` + path + `:7)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^routes`).FindAllString(err.Error(), -1)); n != 2 {
		t.Errorf("error reports %d problems, want 2: %q", n, err)
	}
}
