package testkit

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	vErrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/admin/openapi"
)

// The drift check: Do validates every request it sends (unless Request.Invalid) and every
// answer it receives against the OpenAPI document of the listener the path belongs to
// (admin/openapi), with a real validator. A path or method the document does not describe
// (a proxied route of a test's own configuration, a path the test expects to be unknown, a
// method it expects to be refused with 405) is not checked; every described one is.

var validators = sync.OnceValues(func() (map[string]validator.Validator, error) {
	out := map[string]validator.Validator{}
	for _, l := range []string{openapi.Public, openapi.Operator} {
		doc, err := libopenapi.NewDocument(openapi.Document(l))
		if err != nil {
			return nil, fmt.Errorf("%s document: %w", l, err)
		}
		// Authentication is the API's to check (and the tests', which send bad credentials
		// on purpose); the document still names the schemes.
		v, errs := validator.NewValidator(doc, config.WithoutSecurityValidation())
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s document: %v", l, errs)
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			return nil, fmt.Errorf("%s document is not valid OpenAPI: %v", l, describe(verrs))
		}
		out[l] = v
	}
	return out, nil
})

// listenerOf is the listener whose document describes path: the operator's for its API
// under /admin/, else the public one's (/console/ and /openapi.json are alike on both). The
// operator listener's /metrics, /healthz and /readyz, which the public one answers 404, are
// thus not checked.
func listenerOf(path string) string {
	if strings.HasPrefix(path, "/admin/") {
		return openapi.Operator
	}
	return openapi.Public
}

// checkOpenAPI validates what Do sent (q) and received (p) for r.
func checkOpenAPI(t testing.TB, r Request, q *fasthttp.Request, p *fasthttp.Response) {
	t.Helper()
	if r.Unchecked {
		return
	}
	vs, err := validators()
	if err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	v := vs[listenerOf(string(q.URI().Path()))]
	hq, err := http.NewRequest(string(q.Header.Method()), q.URI().String(), bytes.NewReader(q.Body()))
	if err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	for k, val := range q.Header.All() {
		hq.Header.Add(string(k), string(val))
	}
	if len(q.Body()) > 0 && hq.Header.Get("Content-Type") == "" {
		// The API reads a body without a Content-Type as JSON; so does the check.
		hq.Header.Set("Content-Type", "application/json")
	}
	if !r.Invalid {
		if ok, errs := v.ValidateHttpRequest(hq); !ok && described(errs) {
			t.Errorf("OpenAPI: the request %s %s does not match the document:\n%s", r.Method, r.Path, describe(errs))
		}
		hq.Body = io.NopCloser(bytes.NewReader(q.Body()))
	}
	hp := &http.Response{StatusCode: p.StatusCode(), Header: http.Header{}, Request: hq,
		Body: io.NopCloser(bytes.NewReader(p.Body()))}
	for k, val := range p.Header.All() {
		hp.Header.Add(string(k), string(val))
	}
	if ok, errs := v.ValidateHttpResponse(hq, hp); !ok && described(errs) {
		t.Errorf("OpenAPI: the answer %d to %s %s does not match the document:\n%s\n%s", p.StatusCode(), r.Method, r.Path, describe(errs), p.Body())
	}
}

// described reports whether errs are about a path and method the document describes.
func described(errs []*vErrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation {
			return false
		}
	}
	return true
}

func describe(errs []*vErrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s: %s\n", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "      %s: %s\n", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}
