package admin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantgw/gateway/admin/openapi"
)

// notThisRouters are the tags of operations the document describes that this router does not
// serve (the proxied routes, which the gateway serves, and the console, static.go's): the
// check that every documented operation is served skips them.
var notThisRouters = map[string]bool{"proxied": true, "console": true}

// TestOpenAPIPathsAreTheRouters: every operation of the management and operator API in the
// OpenAPI documents is served by the router (router.go) with that method, and every path kind
// and method the router serves is documented.
func TestOpenAPIPathsAreTheRouters(t *testing.T) {
	covered := map[routeKind]map[string]bool{}
	for _, l := range []string{openapi.Public, openapi.Operator} {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(openapi.Document(l), &doc); err != nil {
			t.Fatal(err)
		}
		for p, item := range doc.Paths {
			if p == "/metrics" || p == "/healthz" || p == "/readyz" {
				continue // ops.go's, not this router's
			}
			concrete := strings.NewReplacer("{auth_id}", "MA_X", "{sub_auth_id}", "SA_Y", "{number}", "+14155550100",
				"{hold_id}", "HL_Z").Replace(p)
			r := parsePublic(concrete)
			if l == openapi.Operator {
				r = parseOperator(concrete)
			}
			for method, raw := range item {
				var op struct {
					Tags []string `json:"tags"`
				}
				if method == "parameters" || method == "description" || json.Unmarshal(raw, &op) != nil {
					continue
				}
				skip := false
				for _, tag := range op.Tags {
					skip = skip || notThisRouters[tag]
				}
				if skip {
					continue
				}
				m := strings.ToUpper(method)
				if r.kind == rNone || r.kind == rUnrouted || !methodOK(r, []byte(m)) {
					t.Errorf("%s document: %s %s is not served by the router", l, m, p)
					continue
				}
				if covered[r.kind] == nil {
					covered[r.kind] = map[string]bool{}
				}
				covered[r.kind][m] = true
			}
		}
	}
	for kind, methods := range allowed {
		for _, m := range strings.Split(methods, ", ") {
			if !covered[kind][m] {
				t.Errorf("the router serves %s on path kind %d, which the OpenAPI documents do not describe", m, kind)
			}
		}
	}
}
