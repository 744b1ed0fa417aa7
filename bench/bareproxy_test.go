package bench

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestBareProxy: requests reach the upstream as they came (method, path) and its answers come
// back; an upstream that cannot be reached is a 502.
func TestBareProxy(t *testing.T) {
	var up directUpstream
	h, err := BareProxy(serve(t, up.handle), 4, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	proxy := serve(t, h)
	down, err := BareProxy(closedURL(t), 4, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	broken := serve(t, down)
	for _, c := range []struct {
		base string
		want int
	}{{proxy, 201}, {proxy, 201}, {broken, 502}} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.SetMethod("POST")
		req.SetRequestURI(c.base + "/v1/Account/SA_1/Call/")
		req.SetBodyString(`{}`)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != c.want {
			t.Errorf("%s: %v, status %d, want %d", c.base, err, resp.StatusCode(), c.want)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	if up.count != 2 || up.paths["POST /v1/Account/SA_1/Call/"] != 2 {
		t.Errorf("upstream saw %d requests: %v", up.count, up.paths)
	}
	if _, err := BareProxy("ftp://x", 1, time.Second); err == nil {
		t.Error("BareProxy(ftp://x): no error")
	}
}
