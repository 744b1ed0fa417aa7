package policy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantgw/gateway/policy/model"
)

// RouteSpec is one configured route as config.Load produced it (API.md §7): validated, its
// method upper-cased and its name derived. See CompileRoutes for a route built otherwise.
type RouteSpec struct {
	Name       string // used in usage counters and metrics
	Method     string // GET, POST, …
	Path       string // template holding "{auth_id}" once, e.g. "/v1/Account/{auth_id}/Call/"
	Upstream   string // name of an upstream
	Permission string // "calls", "sms", "cdr" ("" needs none: only in routes built by hand)
	KYC        bool   // gated by kyc_calls_blocked
	Price      string // decimal money, e.g. "0.0100" ("" is free: only in routes built by hand)
	CallerID   string // the body field whose number the path account must own ("" = none)
}

// Route is a compiled route. Its fields are read-only after CompileRoutes.
type Route struct {
	Name       string
	Method     string
	Path       string
	Upstream   string
	Permission model.Permission // the flag it needs: PermCalls, PermSMS, PermCDR or PermNone
	KYC        bool             // KYC-gated
	Price      model.Amount     // µ, >= 0
	CallerID   string           // the caller-ID field of the body ("" = no check)

	method, prefix, suffix []byte
}

// Routes is the route table, built once at start-up; Match is safe for concurrent use and
// allocates nothing.
type Routes struct {
	routes []Route
}

// ErrBadRoute is wrapped by every CompileRoutes error.
var ErrBadRoute = errors.New("invalid route")

const authIDParam = "{auth_id}"

// routePerms are the permissions a route may need, by their configured names.
var routePerms = map[string]model.Permission{"calls": model.PermCalls, "sms": model.PermSMS, "cdr": model.PermCDR, "": model.PermNone}

// CompileRoutes compiles routes into a table. It compiles what config validated: the rules
// of a route (method, path template, permission, price, name, no two alike, an upstream
// that exists) are config.Validate's alone, and config.Load upper-cases methods and derives
// names; CompileRoutes checks none of that again. A route that did not come through config
// (tests build them) is compiled as written: an empty Name stays empty, Permission "" needs
// no permission, Price "" is free, a method that is not upper-case matches no request, and
// of two routes with the same method and path the first matches.
//
// It fails only for a route it cannot compile into one that is safe to run: a path without
// {auth_id}, a price that is not an amount, or is negative (an admit would pay the caller),
// an unknown permission. config refuses each of these too. Errors name the setting, e.g.
// "routes[2].price: …", and wrap ErrBadRoute.
func CompileRoutes(specs []RouteSpec) (*Routes, error) {
	rs := &Routes{routes: make([]Route, 0, len(specs))}
	for i, s := range specs {
		bad := func(field, format string, a ...any) error {
			return fmt.Errorf("routes[%d].%s: %s: %w", i, field, fmt.Sprintf(format, a...), ErrBadRoute)
		}
		pre, suf, found := strings.Cut(s.Path, authIDParam)
		if !found {
			return nil, bad("path", "%q has no %s", s.Path, authIDParam)
		}
		perm, ok := routePerms[s.Permission]
		if !ok {
			return nil, bad("permission", "%q is not one of calls, sms, cdr", s.Permission)
		}
		var price model.Amount
		if s.Price != "" {
			p, err := model.ParseAmount(s.Price)
			if err != nil {
				return nil, bad("price", "%q: %v", s.Price, err)
			}
			if p < 0 {
				return nil, bad("price", "%q is negative", s.Price)
			}
			price = p
		}
		rs.routes = append(rs.routes, Route{
			Name: s.Name, Method: s.Method, Path: s.Path, Upstream: s.Upstream, Permission: perm, KYC: s.KYC, Price: price, CallerID: s.CallerID,
			method: []byte(s.Method), prefix: []byte(pre), suffix: []byte(suf),
		})
	}
	return rs, nil
}

// Len returns the number of routes.
func (rs *Routes) Len() int { return len(rs.routes) }

// Route returns route i (0 <= i < Len). The pointer is shared and read-only.
func (rs *Routes) Route(i int) *Route { return &rs.routes[i] }

// Match finds the route for method and path (the request's path, without the query). It
// returns the route's index and what stands in the path where the template has {auth_id}:
// one whole, non-empty path segment (no '/'), aliasing path. It need not have the shape of
// an id: the caller refuses a request whose id is not ValidID as it refuses one naming an
// account the caller may not reach (403), so a malformed id and an unknown one look alike.
// A template ending in "/" also matches the path without that final slash. ok is false when
// no route matches. It allocates nothing.
func (rs *Routes) Match(method, path []byte) (idx int, authID []byte, ok bool) {
	for i := range rs.routes {
		r := &rs.routes[i]
		if !bytes.Equal(r.method, method) || !bytes.HasPrefix(path, r.prefix) {
			continue
		}
		rest := path[len(r.prefix):]
		id, found := bytes.CutSuffix(rest, r.suffix)
		if !found && len(r.suffix) > 0 && r.suffix[len(r.suffix)-1] == '/' {
			id, found = bytes.CutSuffix(rest, r.suffix[:len(r.suffix)-1])
		}
		if found && len(id) > 0 && bytes.IndexByte(id, '/') < 0 {
			return i, id, true
		}
	}
	return -1, nil, false
}
