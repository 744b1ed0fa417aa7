package policy

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/policy/model"
)

var defaultSpecs = []RouteSpec{
	{Name: "voice.call", Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", KYC: true, Price: "0.0100"},
	{Name: "voice.cdr", Method: "GET", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "cdr", Price: "0"},
	{Name: "sms.send", Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms", Permission: "sms", Price: "0.0050"},
}

const sa = "SA_ABCDEFGHIJ0123456789"

func TestCompileRoutes(t *testing.T) {
	rs, err := CompileRoutes(defaultSpecs)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 3 {
		t.Fatalf("len %d", rs.Len())
	}
	r := rs.Route(0)
	if r.Price != 10_000 || r.Permission != model.PermCalls || !r.KYC || r.Upstream != "voice" || r.Name != "voice.call" {
		t.Errorf("route 0 = %+v", r)
	}
	if rs.Route(2).Price != 5_000 || rs.Route(1).Price != 0 {
		t.Error("prices")
	}
}

// TestCompileRoutesAsWritten: a route built by hand, not by config, is compiled as written
// (config.Load derives names and upper-cases methods: config's TestLoadSandboxWithOwnRoutes).
func TestCompileRoutesAsWritten(t *testing.T) {
	rs, err := CompileRoutes([]RouteSpec{
		{Method: "post", Path: "/a/{auth_id}", Upstream: "u"},
		{Method: "POST", Path: "/a/{auth_id}", Upstream: "first"},
		{Method: "POST", Path: "/a/{auth_id}", Upstream: "second"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Route(0); r.Name != "" || r.Method != "post" || r.Permission != model.PermNone || r.Price != 0 {
		t.Errorf("route 0 = %+v, want no name, the method as written, no permission, free", r)
	}
	if idx, _, ok := rs.Match([]byte("POST"), []byte("/a/"+sa)); !ok || idx != 1 {
		t.Errorf("Match = %d %v, want the first upper-case route (1)", idx, ok)
	}
}

// TestCompileRoutesErrors: what CompileRoutes cannot compile. Every rule of a route is
// config's (config's TestRouteRules refuses these and the cases that used to be here).
func TestCompileRoutesErrors(t *testing.T) {
	ok := RouteSpec{Method: "POST", Path: "/v1/Account/{auth_id}/Call/", Upstream: "voice", Permission: "calls", Price: "0.01"}
	cases := []struct {
		name  string
		edit  func(*RouteSpec)
		field string
	}{
		{"bad price", func(s *RouteSpec) { s.Price = "1.1234567" }, "routes[1].price"},
		{"price syntax", func(s *RouteSpec) { s.Price = "abc" }, "routes[1].price"},
		{"negative price", func(s *RouteSpec) { s.Price = "-1" }, "routes[1].price"},
		{"no param", func(s *RouteSpec) { s.Path = "/v1/Call/" }, "routes[1].path"},
		{"permission", func(s *RouteSpec) { s.Permission = "fax" }, "routes[1].permission"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := RouteSpec{Method: "POST", Path: "/v1/Account/{auth_id}/Message/", Upstream: "sms"}
			s := ok
			c.edit(&s)
			_, err := CompileRoutes([]RouteSpec{first, s})
			if err == nil || !errors.Is(err, ErrBadRoute) || !strings.HasPrefix(err.Error(), c.field+":") {
				t.Fatalf("err = %v, want one naming %s", err, c.field)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	rs, err := CompileRoutes(defaultSpecs)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path string
		idx          int
		id           string
	}{
		{"POST", "/v1/Account/" + sa + "/Call/", 0, sa},
		{"GET", "/v1/Account/" + sa + "/Call/", 1, sa},
		{"POST", "/v1/Account/" + sa + "/Message/", 2, sa},
		{"POST", "/v1/Account/" + sa + "/Message", 2, sa},
		{"POST", "/v1/Account/MA_ABCDEFGHIJ0123456789/Call/", 0, "MA_ABCDEFGHIJ0123456789"},
		{"DELETE", "/v1/Account/" + sa + "/Call/", -1, ""},
		{"POST", "/v1/Account/" + sa + "/Call/x", -1, ""},
		{"POST", "/v1/Account/" + sa + "/Call//", -1, ""},
		// Malformed ids match: the gateway refuses them as it refuses unknown ones (403).
		{"POST", "/v1/Account/SA_abcdefghij0123456789/Call/", 0, "SA_abcdefghij0123456789"},
		{"POST", "/v1/Account/SA_ABCDEFGHIJ012345678/Call/", 0, "SA_ABCDEFGHIJ012345678"},
		{"POST", "/v1/Account/XA_ABCDEFGHIJ0123456789/Call/", 0, "XA_ABCDEFGHIJ0123456789"},
		{"POST", "/v1/Account/" + sa + "X/Call/", 0, sa + "X"},
		{"POST", "/v1/Account/x/Message", 2, "x"},
		{"POST", "/v1/Account//Call/", -1, ""},
		{"POST", "/v1/Account/a/b/Call/", -1, ""},
		{"POST", "/v1/Account/Call/", -1, ""},
		{"POST", "/v1/Account/", -1, ""},
		{"POST", "", -1, ""},
		{"post", "/v1/Account/" + sa + "/Call/", -1, ""},
		{"POST", "/v1/Account/" + sa + "/Subaccount/", -1, ""},
	}
	for _, c := range cases {
		idx, id, ok := rs.Match([]byte(c.method), []byte(c.path))
		if idx != c.idx || string(id) != c.id || ok != (c.idx >= 0) {
			t.Errorf("Match(%s %s) = %d %q %v, want %d %q", c.method, c.path, idx, id, ok, c.idx, c.id)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	rs, _ := CompileRoutes(defaultSpecs)
	m, p := []byte("POST"), []byte("/v1/Account/"+sa+"/Message/")
	if n := testing.AllocsPerRun(100, func() { rs.Match(m, p) }); n != 0 {
		t.Errorf("Match allocates %v", n)
	}
}

func FuzzMatch(f *testing.F) {
	rs, err := CompileRoutes(defaultSpecs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v1/Account/"+sa+"/Call/")
	f.Add("GET", "/v1/Account/"+sa+"/Call")
	f.Add("POST", "/v1/Account/"+sa+"/Message/")
	f.Add("POST", "/v1/Account//Call/")
	f.Add("PUT", "/")
	f.Fuzz(func(t *testing.T, method, path string) {
		idx, id, ok := rs.Match([]byte(method), []byte(path))
		if !ok {
			if idx != -1 || id != nil {
				t.Fatalf("no match but %d %q", idx, id)
			}
			return
		}
		r := rs.Route(idx)
		if len(id) == 0 || bytes.IndexByte(id, '/') >= 0 || r.Method != method {
			t.Fatalf("match %d with id %q for %s %s", idx, id, method, path)
		}
		// The path is the template with the id filled in (maybe without the final slash).
		want := strings.Replace(r.Path, authIDParam, string(id), 1)
		if path != want && path+"/" != want {
			t.Fatalf("%s matched %s", path, r.Path)
		}
		if !bytes.Contains([]byte(path), id) {
			t.Fatal("id not from the path")
		}
	})
}
