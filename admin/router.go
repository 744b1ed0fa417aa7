package admin

import (
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
)

// Paths, with or without the trailing slash:
//
//	public:   /v1/Account/{id}/                              GET
//	          /v1/Account/{id}/Balance/                      GET
//	          /v1/Account/{id}/Transfer/                     GET, POST
//	          /v1/Account/{id}/CreditTransfer/               POST
//	          /v1/Account/{id}/Usage/                        GET
//	          /v1/Account/{id}/Subaccount/                   GET, POST
//	          /v1/Account/{id}/Subaccount/{sub}/             GET, POST, PATCH, DELETE
//	          /v1/Account/{id}/Subaccount/{sub}/Token/       POST
//	          /v1/Account/{id}/Number/                       GET
//	          /v1/Account/{id}/Number/{number}/              GET, POST, DELETE ({number}: '+' or %2B)
//	operator: /admin/v1/Account/                             GET, POST
//	          /admin/v1/Account/{id}/                        GET, POST, PATCH
//	          /admin/v1/Account/{id}/Credit/                 POST
//	          /admin/v1/Account/{id}/Kyc/                    POST
//	          /admin/v1/Account/{id}/Token/                  POST (rotate any account's token)
//	          /admin/v1/Account/{id}/Number/                 POST (add to a main account's inventory)
//	          /admin/v1/Number/{number}/                     GET, DELETE
//	          /admin/v1/Hold/{hold}/                         GET
//	          /admin/v1/Hold/{hold}/Extend/, Settle/, Void/  POST
//	public:   /v1/Account/{id}/Hold/                         GET (open holds of the subtree)
//	both:     /openapi.json, /console/…                      GET, HEAD, no credentials (static.go)

type routeKind int

const (
	rNone     routeKind = iota
	rUnrouted           // under /v1/Account/{id}/ but no resource: 404 ROUTE_NOT_FOUND once authenticated
	rSelf
	rBalance
	rSubs
	rSub
	rToken
	rTransfer
	rCreditTransfer
	rUsage
	rNumbers
	rNumber
	rHolds
	// operator
	rMains
	rAny
	rCredit
	rKyc
	rAnyToken
	rMainNumber
	rAnyNumber
	rHold
	rHoldExtend
	rHoldSettle
	rHoldVoid
)

// allowed lists the methods of each kind, as the Allow header says them.
var allowed = map[routeKind]string{
	rSelf: "GET", rBalance: "GET", rSubs: "GET, POST", rSub: "GET, POST, PATCH, DELETE", rToken: "POST",
	rTransfer: "GET, POST", rCreditTransfer: "POST", rUsage: "GET", rNumbers: "GET", rNumber: "GET, POST, DELETE",
	rMains: "GET, POST", rAny: "GET, POST, PATCH", rCredit: "POST", rKyc: "POST", rAnyToken: "POST",
	rMainNumber: "POST", rAnyNumber: "GET, DELETE",
	rHolds: "GET", rHold: "GET", rHoldExtend: "POST", rHoldSettle: "POST", rHoldVoid: "POST",
}

type route struct {
	kind    routeKind
	id, sub string
}

// segments splits a path below prefix into its segments, dropping one trailing slash.
func segments(path, prefix string) ([]string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return nil, false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "/"), true
}

// parsePublic and parseOperator are the path table above as code, one case a row: the rows,
// and the two functions, are alike by design (each listener serves its own paths), so a new
// path is one case in the listener's function.
func parsePublic(path string) route {
	s, ok := segments(path, "/v1/Account/")
	if !ok || len(s) == 0 || s[0] == "" {
		return route{}
	}
	switch {
	case len(s) == 1:
		return route{kind: rSelf, id: s[0]}
	case len(s) == 2 && s[1] == "Balance":
		return route{kind: rBalance, id: s[0]}
	case len(s) == 2 && s[1] == "Subaccount":
		return route{kind: rSubs, id: s[0]}
	case len(s) == 2 && s[1] == "Transfer":
		return route{kind: rTransfer, id: s[0]}
	case len(s) == 2 && s[1] == "CreditTransfer":
		return route{kind: rCreditTransfer, id: s[0]}
	case len(s) == 2 && s[1] == "Usage":
		return route{kind: rUsage, id: s[0]}
	case len(s) == 2 && s[1] == "Number":
		return route{kind: rNumbers, id: s[0]}
	case len(s) == 3 && s[1] == "Number" && s[2] != "":
		return route{kind: rNumber, id: s[0], sub: s[2]}
	case len(s) == 2 && s[1] == "Hold":
		return route{kind: rHolds, id: s[0]}
	case len(s) == 3 && s[1] == "Subaccount" && s[2] != "":
		return route{kind: rSub, id: s[0], sub: s[2]}
	case len(s) == 4 && s[1] == "Subaccount" && s[2] != "" && s[3] == "Token":
		return route{kind: rToken, id: s[0], sub: s[2]}
	}
	return route{kind: rUnrouted, id: s[0]}
}

func parseOperator(path string) route {
	if path == "/admin/v1/Account" {
		return route{kind: rMains}
	}
	if n, ok := segments(path, "/admin/v1/Number/"); ok {
		if len(n) == 1 && n[0] != "" {
			return route{kind: rAnyNumber, sub: n[0]}
		}
		return route{}
	}
	if s, ok := segments(path, "/admin/v1/Hold/"); ok && len(s) > 0 && s[0] != "" {
		switch {
		case len(s) == 1:
			return route{kind: rHold, id: s[0]}
		case len(s) == 2 && s[1] == "Extend":
			return route{kind: rHoldExtend, id: s[0]}
		case len(s) == 2 && s[1] == "Settle":
			return route{kind: rHoldSettle, id: s[0]}
		case len(s) == 2 && s[1] == "Void":
			return route{kind: rHoldVoid, id: s[0]}
		}
		return route{}
	}
	s, ok := segments(path, "/admin/v1/Account/")
	if !ok || len(s) > 0 && s[0] == "" {
		return route{}
	}
	switch {
	case len(s) == 0:
		return route{kind: rMains}
	case len(s) == 1:
		return route{kind: rAny, id: s[0]}
	case len(s) == 2 && s[1] == "Credit":
		return route{kind: rCredit, id: s[0]}
	case len(s) == 2 && s[1] == "Kyc":
		return route{kind: rKyc, id: s[0]}
	case len(s) == 2 && s[1] == "Token":
		return route{kind: rAnyToken, id: s[0]}
	case len(s) == 2 && s[1] == "Number":
		return route{kind: rMainNumber, id: s[0]}
	}
	return route{}
}

// methodOK reports whether the request's method is one the route serves; HEAD is not.
func methodOK(r route, method []byte) bool {
	for _, m := range strings.Split(allowed[r.kind], ", ") {
		if m == string(method) {
			return true
		}
	}
	return false
}

// accept answers what is wrong before any handler runs — an unknown path (404 NOT_FOUND), a
// path under /v1/Account/{auth_id}/ that is no resource (401 or 404 ROUTE_NOT_FOUND), a
// method the path does not serve (405), failed authentication — and reports whether to go on.
func (c *call) accept(r route, authenticate func() error) bool {
	switch {
	case r.kind == rNone:
		c.fail(notFound())
	case r.kind == rUnrouted:
		// Neither a management resource nor a proxied route (the gateway sends Public every
		// request no route matched): API.md §3's ROUTE_NOT_FOUND, for an authenticated caller
		// only. The access rule does not apply: the answer is the same for every {auth_id}.
		err := c.limited(authenticate)
		if err == nil {
			err = policy.ErrRouteNotFound
		}
		c.fail(err)
	case !methodOK(r, c.rc.Method()):
		c.methodNotAllowed(allowed[r.kind])
	default:
		if err := c.limited(authenticate); err != nil {
			c.fail(err)
			return false
		}
		return true
	}
	return false
}

// Public serves the management API of API.md §4 on the public listener. A path under
// /v1/Account/{auth_id}/ that it does not know is 404 ROUTE_NOT_FOUND for an authenticated
// caller (401 otherwise); anything else it does not know is 404 NOT_FOUND.
func (a *API) Public(rc *fasthttp.RequestCtx) {
	c, cancel := a.begin(rc, false)
	defer cancel()
	if c.static() {
		return
	}
	r := parsePublic(string(rc.Path()))
	if !c.accept(r, c.authenticate) {
		return
	}
	target, err := c.pathAccount(r.id)
	if err != nil {
		c.fail(err)
		return
	}
	switch r.kind {
	case rSelf:
		c.readAccount(target)
	case rBalance:
		c.readBalance(target)
	case rTransfer:
		if rc.IsGet() {
			c.listTransfers(target)
		} else {
			c.transfer(target)
		}
	case rCreditTransfer:
		c.creditTransfer(target)
	case rUsage:
		c.usage(target)
	case rNumbers:
		c.listNumbers(target)
	case rNumber:
		switch {
		case rc.IsGet():
			c.readNumber(target, r.sub)
		case rc.IsDelete():
			c.giveBackNumber(target, r.sub)
		default:
			c.moveNumber(target, r.sub)
		}
	case rHolds:
		c.listHolds(target)
	case rSubs:
		if rc.IsGet() {
			c.listChildren(target)
		} else {
			c.createChild(target)
		}
	case rSub, rToken:
		sub, err := c.childAccount(target, r.sub)
		if err != nil {
			c.fail(err)
			return
		}
		switch {
		case r.kind == rToken:
			c.rotate(sub)
		case rc.IsGet():
			c.readAccount(sub)
		case rc.IsDelete():
			c.deleteChild(target, sub)
		default:
			c.updateAccount(sub, publicFields)
		}
	}
}

// Operator serves the operator API of API.md §6 under /admin/v1/. Anything it does not know
// is 404 NOT_FOUND.
func (a *API) Operator(rc *fasthttp.RequestCtx) {
	c, cancel := a.begin(rc, true)
	defer cancel()
	if c.static() {
		return
	}
	r := parseOperator(string(rc.Path()))
	if !c.accept(r, c.authenticateOperator) {
		return
	}
	if r.kind >= rHold {
		c.holdEndpoint(r)
		return
	}
	if c.upstream != "" { // a backend's token opens the hold endpoints only
		c.fail(policy.ErrForbidden)
		return
	}
	if r.kind == rMains {
		if rc.IsGet() {
			c.listMains()
		} else {
			c.createMain()
		}
		return
	}
	if r.kind == rAnyNumber {
		c.operatorNumber(r.sub)
		return
	}
	target, err := c.anyAccount(r.id)
	if err != nil {
		c.fail(err)
		return
	}
	switch {
	case r.kind == rCredit:
		c.credit(target)
	case r.kind == rKyc:
		c.setKYC(target)
	case r.kind == rAnyToken:
		c.rotate(target)
	case r.kind == rMainNumber:
		c.addNumber(target)
	case rc.IsGet():
		c.readAccount(target)
	default:
		c.updateAccount(target, operatorUpdateFields)
	}
}

// RequireOperator guards an operator-listener endpoint outside /admin/v1/ (main wraps
// /metrics and /debug/pprof/ in it): h runs only for Authorization: Bearer <operator
// token>, checked as for the operator API (OperatorAuthLimiter included); anything else
// gets the operator API's 401 (or 429) in the error body. Every answer carries X-Request-ID
// and Cache-Control: no-store.
func (a *API) RequireOperator(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		c, cancel := a.begin(rc, true)
		defer cancel()
		if err := c.limited(c.authenticateOperator); err != nil {
			c.fail(err)
			return
		}
		if c.upstream != "" { // a backend's token opens the hold endpoints only
			c.fail(policy.ErrForbidden)
			return
		}
		h(rc)
	}
}
