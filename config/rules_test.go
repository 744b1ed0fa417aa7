package config

import (
	"strings"
	"testing"
)

// TestRouteRules: config is the one route validator. It refuses every route the gateway's
// route compiler used to refuse (these are the cases of that compiler's former test), each
// error naming the route's setting, and the routes that compiler could not have run: a
// method of anything but letters, a name the usage counters cannot hold.
func TestRouteRules(t *testing.T) {
	first := Route{Name: "first", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0"}
	ok := Route{Name: "ok", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", Price: "0.01"}
	cases := []struct {
		name    string
		edit    func(*Route)
		setting string
	}{
		{"bad price", func(r *Route) { r.Price = "1.1234567" }, "routes[1].price"},
		{"price syntax", func(r *Route) { r.Price = "abc" }, "routes[1].price"},
		{"negative price", func(r *Route) { r.Price = "-1" }, "routes[1].price"},
		{"no param", func(r *Route) { r.Path = "/v1/Call/" }, "routes[1].path"},
		{"two params", func(r *Route) { r.Path = "/v1/{auth_id}/{auth_id}/" }, "routes[1].path"},
		{"other param", func(r *Route) { r.Path = "/v1/{auth_id}/{x}/" }, "routes[1].path"},
		{"relative", func(r *Route) { r.Path = "v1/{auth_id}/" }, "routes[1].path"},
		{"query", func(r *Route) { r.Path = "/v1/{auth_id}/?a=b" }, "routes[1].path"},
		{"method", func(r *Route) { r.Method = "PO ST" }, "routes[1].method"},
		{"empty method", func(r *Route) { r.Method = "" }, "routes[1].method"},
		{"method with a dash", func(r *Route) { r.Method = "M-SEARCH" }, "routes[1].method"},
		{"method with a digit", func(r *Route) { r.Method = "GET2" }, "routes[1].method"},
		{"permission", func(r *Route) { r.Permission = "fax" }, "routes[1].permission"},
		{"upstream", func(r *Route) { r.Upstream = "" }, "routes[1].upstream"},
		{"name", func(r *Route) { r.Name = "a|b" }, "routes[1].name"},
		{"name with a line break", func(r *Route) { r.Name = "a\nb" }, "routes[1].name"},
		{"name with a carriage return", func(r *Route) { r.Name = "a\rb" }, "routes[1].name"},
		{"duplicate", func(r *Route) { r.Path = "/v1/Account/{auth_id}/Message/" }, "routes[1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			r := ok
			c.edit(&r)
			cfg.Routes = []Route{first, r}
			err := cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), c.setting+":") || strings.Count(err.Error(), "\n") != 0 {
				t.Fatalf("Validate() = %v, want one error naming %s", err, c.setting)
			}
		})
	}
}

// TestDerivedRouteName: a name derived from method and path obeys the rules of a name given.
func TestDerivedRouteName(t *testing.T) {
	_, err := Load(writeConfig(t, `routes: [{method: POST, path: "/v1/Account/{auth_id}/a|b/", upstream: voice, permission: calls, price: "0"}]`), nil)
	if err == nil || !strings.Contains(err.Error(), `routes[0].name: "POST /v1/Account/{auth_id}/a|b/" must not contain '|' or line breaks`) {
		t.Fatalf("Load: %v, want the derived name refused", err)
	}
}

// TestUpstreamURLRules: an upstream URL is a base the gateway can forward to as it is: a
// scheme and a host, nothing the gateway would drop (a path, a user) — the gateway used to
// refuse those only once the store was open.
func TestUpstreamURLRules(t *testing.T) {
	for _, tc := range []struct{ url, want, not string }{
		{"http://x/base", `upstreams.voice.url: "http://x/base" must not have a path`, ""},
		{"http://u:s3cret@x", `upstreams.voice.url: "http://u:xxxxx@x" must not hold a user or password`, "s3cret"},
		{"ftp://x", `upstreams.voice.url: "ftp://x" must start with http:// or https://`, ""},
	} {
		c := Default()
		c.Sandbox = false
		c.Upstreams = map[string]Upstream{"voice": DefaultUpstream(), "sms": DefaultUpstream()}
		for name, u := range c.Upstreams {
			u.URL = "http://" + name + ":9000"
			c.Upstreams[name] = u
		}
		u := c.Upstreams["voice"]
		u.URL = tc.url
		c.Upstreams["voice"] = u
		err := c.Validate()
		if err == nil || err.Error() != tc.want || (tc.not != "" && strings.Contains(err.Error(), tc.not)) {
			t.Errorf("%s: Validate() = %v, want %s", tc.url, err, tc.want)
		}
	}
	for _, ok := range []string{"http://x", "http://x/", "https://x:8443"} {
		c := Default()
		u := c.Upstreams["voice"]
		u.URL = ok
		c.Upstreams["voice"] = u
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
