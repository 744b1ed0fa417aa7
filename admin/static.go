package admin

import (
	"github.com/tenantgw/gateway/admin/openapi"
)

// static answers what both listeners serve without credentials — GET /openapi.json (the
// listener's OpenAPI document, API.md §11) — and reports whether the path was one of them.
// Another method than GET or HEAD is 405.
func (c *call) static() bool {
	isDoc := string(c.rc.Path()) == "/openapi.json"
	if !isDoc {
		return false
	}
	if !c.rc.IsGet() && !c.rc.IsHead() {
		c.methodNotAllowed("GET, HEAD")
		return true
	}
	l := openapi.Public
	if c.operator {
		l = openapi.Operator
	}
	c.rc.SetContentType("application/json")
	c.rc.SetBody(openapi.Document(l))
	return true
}
