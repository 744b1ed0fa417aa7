package admin

import (
	"github.com/tenantgw/gateway/admin/console"
	"github.com/tenantgw/gateway/admin/openapi"
)

// static answers what both listeners serve without credentials — GET /openapi.json (the
// listener's OpenAPI document, API.md §11) and the console under /console/ (§10) — and
// reports whether the path was one of them. Another method than GET or HEAD is 405.
func (c *call) static() bool {
	p := string(c.rc.Path())
	isDoc := p == "/openapi.json"
	if !isDoc && p != "/console" && (len(p) < len(console.Prefix) || p[:len(console.Prefix)] != console.Prefix) {
		return false
	}
	if !c.rc.IsGet() && !c.rc.IsHead() {
		c.methodNotAllowed("GET, HEAD")
		return true
	}
	if isDoc {
		l := openapi.Public
		if c.operator {
			l = openapi.Operator
		}
		c.rc.SetContentType("application/json")
		c.rc.SetBody(openapi.Document(l))
		return true
	}
	return console.Serve(c.rc, c.operator)
}
