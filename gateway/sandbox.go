package gateway

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// StartSandbox starts two built-in upstreams on loopback that answer like a telephony API,
// so that a first run works end to end on one machine:
//
//	voice: POST …/Call/    → 201 {"api_id", "message": "call fired", "request_uuid", "call_uuid", "account_id"}
//	       GET  …/Call/    → 200 {"api_id", "meta": {…}, "objects": []}
//	sms:   POST …/Message/ → 202 {"api_id", "message": "message(s) queued", "message_uuid": [...], "account_id"}
//
// Each answer echoes the gateway's X-Account-ID (as "account_id" and as a header). Anything
// else is a 404 in the same style. stop shuts both down and waits for them.
func StartSandbox() (voiceURL, smsURL string, stop func(), err error) {
	var lns []net.Listener
	var srvs []*fasthttp.Server
	var wg sync.WaitGroup
	stopAll := func() {
		for _, s := range srvs {
			_ = s.Shutdown()
		}
		for _, ln := range lns {
			_ = ln.Close()
		}
		wg.Wait()
	}
	for _, h := range []fasthttp.RequestHandler{sandboxVoice, sandboxSMS} {
		ln, e := net.Listen("tcp4", "127.0.0.1:0")
		if e != nil {
			stopAll()
			return "", "", nil, errors.Join(errors.New("sandbox upstream"), e)
		}
		srv := &fasthttp.Server{Handler: h, Name: "sandbox", ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
		lns = append(lns, ln)
		srvs = append(srvs, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	return "http://" + lns[0].Addr().String(), "http://" + lns[1].Addr().String(), stopAll, nil
}

func uuid4(dst []byte) []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var h [32]byte
	hex.Encode(h[:], b[:])
	dst = append(dst, h[:8]...)
	dst = append(dst, '-')
	dst = append(dst, h[8:12]...)
	dst = append(dst, '-')
	dst = append(dst, h[12:16]...)
	dst = append(dst, '-')
	dst = append(dst, h[16:20]...)
	dst = append(dst, '-')
	return append(dst, h[20:]...)
}

func sandboxStart(rc *fasthttp.RequestCtx, status int) []byte {
	rc.SetStatusCode(status)
	rc.SetContentType("application/json")
	acct := rc.Request.Header.Peek(hAccountID)
	if len(acct) > 0 {
		rc.Response.Header.SetBytesV(hAccountID, acct)
	}
	b := append([]byte(nil), `{"api_id":"`...)
	b = uuid4(b)
	b = append(b, `","account_id":"`...)
	for _, c := range acct { // ids are [A-Z0-9_]; drop anything else
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func sandboxVoice(rc *fasthttp.RequestCtx) {
	p := rc.Path()
	switch {
	case bytes.HasSuffix(p, []byte("/Call/")) && rc.IsPost():
		b := sandboxStart(rc, fasthttp.StatusCreated)
		b = append(b, `,"message":"call fired","request_uuid":"`...)
		b = uuid4(b)
		b = append(b, `","call_uuid":"`...)
		b = uuid4(b)
		rc.SetBody(append(b, `"}`...))
	case bytes.HasSuffix(p, []byte("/Call/")) && rc.IsGet():
		b := sandboxStart(rc, fasthttp.StatusOK)
		b = append(b, `,"meta":{"limit":20,"offset":0,"total_count":0,"next":null,"previous":null},"objects":[]}`...)
		rc.SetBody(b)
	default:
		sandboxNotFound(rc)
	}
}

func sandboxSMS(rc *fasthttp.RequestCtx) {
	if bytes.HasSuffix(rc.Path(), []byte("/Message/")) && rc.IsPost() {
		b := sandboxStart(rc, fasthttp.StatusAccepted)
		b = append(b, `,"message":"message(s) queued","message_uuid":["`...)
		b = uuid4(b)
		rc.SetBody(append(b, `"]}`...))
		return
	}
	sandboxNotFound(rc)
}

func sandboxNotFound(rc *fasthttp.RequestCtx) {
	b := sandboxStart(rc, fasthttp.StatusNotFound)
	rc.SetBody(append(b, `,"error":"not found"}`...))
}
