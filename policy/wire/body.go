package wire

import (
	"encoding/json"
	"net/http"

	"github.com/valyala/fasthttp"
)

// Challenges of WWW-Authenticate, sent with every 401: the public listener takes account
// credentials (HTTP Basic, or the X-Auth-ID/X-Auth-Token headers), the operator listener the
// operator token.
const (
	BasicChallenge  = `Basic realm="gateway"`
	BearerChallenge = `Bearer realm="gateway"`
)

// AppendErrorBody appends the error body of API.md §3 for e to dst:
// {"status":"error","error":{"code":…,"message":…,"details":{…}},"request_id":…}.
// Both listeners use it (through WriteError), so every error looks the same.
func AppendErrorBody(dst []byte, e *APIError, requestID []byte) []byte {
	dst = append(dst, `{"status":"error","error":{"code":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err == nil {
			dst = append(dst, `,"details":`...)
			dst = append(dst, b...)
		}
	}
	dst = append(dst, `},"request_id":`...)
	dst = appendJSONString(dst, string(requestID))
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // strings always marshal
	return append(dst, b...)
}

// WriteError answers rc with e: its status, Content-Type application/json, the error body
// naming requestID and, for a 401, WWW-Authenticate: challenge (BasicChallenge or
// BearerChallenge). The body is built in scratch[:0] and copied into the response; the
// (perhaps grown) scratch is returned for the caller to reuse. Other headers (X-Request-ID
// among them) are the caller's.
func WriteError(rc *fasthttp.RequestCtx, e *APIError, requestID []byte, challenge string, scratch []byte) []byte {
	rc.SetStatusCode(e.Status)
	rc.Response.Header.SetContentType("application/json")
	if e.Status == http.StatusUnauthorized {
		rc.Response.Header.Set("WWW-Authenticate", challenge)
	}
	scratch = AppendErrorBody(scratch[:0], e, requestID)
	rc.Response.SetBody(scratch)
	return scratch
}
