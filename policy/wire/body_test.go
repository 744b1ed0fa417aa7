package wire

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestWriteError: status, JSON content type, the body of AppendErrorBody, and the listener's
// challenge on a 401 only; the scratch buffer is reused.
func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		e         *APIError
		challenge string
		want      string // WWW-Authenticate
	}{
		{InvalidCredentials.Answer(nil), BasicChallenge, `Basic realm="gateway"`},
		{InvalidCredentials.Answer(nil), BearerChallenge, `Bearer realm="gateway"`},
		{Forbidden.Answer(nil), BasicChallenge, ""},
		{RateLimited.Answer(map[string]any{"auth_id": "SA_X"}), BearerChallenge, ""},
	} {
		var rc fasthttp.RequestCtx
		scratch := make([]byte, 0, 512)
		out := WriteError(&rc, c.e, []byte("rid"), c.challenge, scratch)
		if rc.Response.StatusCode() != c.e.Status || string(rc.Response.Header.ContentType()) != "application/json" ||
			string(rc.Response.Header.Peek("WWW-Authenticate")) != c.want {
			t.Errorf("%s: %d %q %q", c.e.Code, rc.Response.StatusCode(), rc.Response.Header.ContentType(), rc.Response.Header.Peek("WWW-Authenticate"))
		}
		if want := string(AppendErrorBody(nil, c.e, []byte("rid"))); string(rc.Response.Body()) != want || string(out) != want || &out[0] != &scratch[:1][0] {
			t.Errorf("%s: body %s, want %s (scratch reused: %v)", c.e.Code, rc.Response.Body(), want, &out[0] == &scratch[:1][0])
		}
	}
}
