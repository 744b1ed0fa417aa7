package gateway

import (
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestMalformedPathIDIsForbidden: on a proxied route, a path id that is not even shaped like
// an id is refused exactly as a well-formed unknown one is: 403 FORBIDDEN after
// authentication (401 without it), so the answer says nothing about ids.
func TestMalformedPathIDIsForbidden(t *testing.T) {
	var fellBack atomic.Int32
	f := newFixture(t, func(o *Options) {
		o.Fallback = func(ctx *fasthttp.RequestCtx) { fellBack.Add(1); ctx.SetStatusCode(404) }
	})
	m := f.mk(nil, "1.00")
	for _, id := range []string{"SA_NOSUCHACCOUNT000000Y", "SA_bad", "sa_ABCDEFGHIJ0123456789", "MA_ABCDEFGHIJ01234567890", "x"} {
		for _, path := range []string{"/v1/Account/" + id + "/Call/", "/v1/Account/" + id + "/Message"} {
			a := f.do(call{path: path, as: m})
			if a.status != 403 || a.err.Error.Code != "FORBIDDEN" || a.header["X-Charge"] != "0.00" {
				t.Errorf("%s: %d %s, want 403 FORBIDDEN", path, a.status, a.body)
			}
			if a := f.do(call{path: path}); a.status != 401 {
				t.Errorf("%s without credentials: %d %s, want 401", path, a.status, a.body)
			}
		}
	}
	if fellBack.Load() != 0 || f.voice.count()+f.sms.count() != 0 || f.bal(m) != amt("1.00") {
		t.Errorf("fallback %d, forwarded %d, balance %v", fellBack.Load(), f.voice.count()+f.sms.count(), f.bal(m))
	}
}
