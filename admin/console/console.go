// Package console serves the web console of API.md §10: one static page, its script and
// style sheet, and the vendored charting library (uPlot, MIT, in static/vendor/uplot with its
// license), all built into the binary with go:embed. The console has no API of its own: the
// page signs in with credentials typed into it, keeps them in memory for the tab only, and
// calls the management API of the listener that served it (HTTP Basic on the public
// listener, Bearer with the operator token on the operator listener). No cookies, nothing
// from another origin.
//
// Every answer carries a Content-Security-Policy that allows scripts, styles, images and
// fetches from the page's own origin only (no inline script or style, no frames, no form
// posts, no plugins), X-Content-Type-Options: nosniff, X-Frame-Options: DENY and
// Referrer-Policy: no-referrer. Serve is safe for concurrent use; the files never change.
package console

import (
	"bytes"
	"embed"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

//go:embed static
var files embed.FS

// Prefix is where the console lives on both listeners.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console answer.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// The page for each listener: index.html with <body data-listener="…">, which the script
// reads to sign in with account credentials (public) or the operator token (operator).
var pages = func() map[bool][]byte {
	b, err := files.ReadFile("static/index.html")
	if err != nil {
		panic(err)
	}
	mark := []byte(`data-listener="public"`)
	if !bytes.Contains(b, mark) {
		panic("console: index.html has no " + string(mark))
	}
	return map[bool][]byte{false: b, true: bytes.Replace(b, mark, []byte(`data-listener="operator"`), 1)}
}()

// Serve answers a GET or HEAD under /console/ (or /console itself, redirected to
// /console/): the page for the operator listener when operator, else the public one's; a
// file the console does not have is 404 in plain text. It reports false, writing nothing,
// for any other path. The caller checks the method.
func Serve(rc *fasthttp.RequestCtx, operator bool) bool {
	p := string(rc.Path())
	if p == strings.TrimSuffix(Prefix, "/") {
		rc.Redirect(Prefix, fasthttp.StatusMovedPermanently)
		return true
	}
	name, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		return false
	}
	h := &rc.Response.Header
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if name == "" || name == "index.html" {
		rc.SetContentType("text/html; charset=utf-8")
		rc.SetBody(pages[operator])
		return true
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "..") || strings.HasSuffix(name, "/") {
		rc.SetStatusCode(fasthttp.StatusNotFound)
		rc.SetContentType("text/plain; charset=utf-8")
		rc.SetBodyString("not found\n")
		return true
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	rc.SetContentType(ct)
	rc.SetBody(b)
	return true
}
