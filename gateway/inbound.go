package gateway

import (
	"bytes"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/policy"
)

// What every request of the public listener goes through before it is routed (the
// management API's too): the path must be in normal form, so that "what was decided on is
// what is acted on" holds: the route, the access rule and the bill are decided on the path
// the upstream (or the management API) then receives.

var (
	errPathNotNormal = &policy.APIError{Status: http.StatusBadRequest, Code: "INVALID_REQUEST",
		Message: "the path must be in normal form: no percent-encoding, no dot or empty segments",
		Details: map[string]any{"field": "path"}}
)

// inbound checks and trims the client's request before routing; it answers the error to
// refuse it with, or nil.
func inbound(req *fasthttp.Request) *policy.APIError {
	if !normalPath(req.URI()) {
		return errPathNotNormal
	}
	return nil
}

// normalPath reports whether the path as sent is its own normal form: fasthttp routes on the
// percent-decoded path with dot segments and repeated slashes resolved (URI.Path), while
// the upstream clients send the path as sent (URI.PathOriginal). Only when the two are the
// same bytes is the path the route, the access rule and the bill were decided on the path
// the upstream acts on. So percent-encoding anywhere in the path (%2F, %2e, %41 alike), "."
// and ".." segments and "//" are refused; the query is not looked at. A backslash is an
// ordinary character here: it matches no route's separator, so it cannot move a request
// to another account either.
func normalPath(u *fasthttp.URI) bool {
	raw := u.PathOriginal()
	if len(raw) == 0 {
		return true // an absolute-form target with no path: "/", as sent on
	}
	return bytes.Equal(raw, u.Path())
}
