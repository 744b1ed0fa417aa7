package gateway

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/config"
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
//
// A call that carries X-Call-Hold-ID (a call route's, API.md §8) is "talked" for a random
// whole number of seconds from 1 to the sandbox's talk time (at most X-Call-Max-Duration),
// then settled by duration through the operator API, as a voice backend does — once
// SandboxCalls has told the sandbox where the operator API is.
func StartSandbox() (voiceURL, smsURL string, stop func(), err error) {
	sb, err := StartSandboxCalls(0)
	if err != nil {
		return "", "", nil, err
	}
	return sb.VoiceURL, sb.SMSURL, sb.Stop, nil
}

// Sandbox is the running sandbox upstreams (StartSandboxCalls).
type Sandbox struct {
	VoiceURL, SMSURL string
	stop             func()
	talk             time.Duration
	op               atomic.Pointer[sandboxOperator]
	quit             chan struct{}
	talks            sync.WaitGroup
}

type sandboxOperator struct{ url, token string }

// StartSandboxCalls starts the sandbox (see StartSandbox); its calls talk up to talk, in
// whole seconds and at least one (0: config.DefaultSandboxTalk).
func StartSandboxCalls(talk time.Duration) (*Sandbox, error) {
	sb := &Sandbox{talk: talk.Truncate(time.Second), quit: make(chan struct{})}
	if talk <= 0 {
		sb.talk = config.DefaultSandboxTalk
	}
	sb.talk = max(sb.talk, time.Second)
	voice, sms, stop, err := startSandbox(sb.voice)
	if err != nil {
		return nil, err
	}
	sb.VoiceURL, sb.SMSURL, sb.stop = voice, sms, stop
	return sb, nil
}

// SandboxCalls tells the sandbox where to settle its calls: the operator API's base URL
// ("http://127.0.0.1:8081") and a token that may (the voice upstream's own, or the
// operator's).
func (sb *Sandbox) SandboxCalls(operatorURL, token string) {
	sb.op.Store(&sandboxOperator{url: operatorURL, token: token})
}

// Stop shuts the sandbox down; calls still talking are not settled (their holds expire).
// The servers stop first, so that no call starts talking while Stop waits for the talks.
func (sb *Sandbox) Stop() {
	sb.stop()
	close(sb.quit)
	sb.talks.Wait()
}

// voice answers as sandboxVoice and starts the talk of a call that has a hold.
func (sb *Sandbox) voice(rc *fasthttp.RequestCtx) {
	sandboxVoice(rc)
	hold := string(rc.Request.Header.Peek(hCallHoldID))
	op := sb.op.Load()
	if hold == "" || op == nil || rc.Response.StatusCode() != fasthttp.StatusCreated {
		return
	}
	maxSecs, _ := strconv.ParseInt(string(rc.Request.Header.Peek(hCallMaxDur)), 10, 64)
	var r [8]byte
	_, _ = rand.Read(r[:])
	secs := 1 + int64(binary.BigEndian.Uint64(r[:])%uint64(sb.talk/time.Second))
	if maxSecs > 0 && secs > maxSecs {
		secs = maxSecs
	}
	sb.talks.Add(1)
	go func() {
		defer sb.talks.Done()
		select {
		case <-sb.quit:
			return
		case <-time.After(time.Duration(secs) * time.Second):
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI(op.url + "/admin/v1/Hold/" + hold + "/Settle/")
		req.Header.Set("Authorization", "Bearer "+op.token)
		req.Header.SetContentType("application/json")
		req.SetBodyString(`{"duration":` + strconv.FormatInt(secs, 10) + `}`)
		_ = fasthttp.DoTimeout(req, resp, 10*time.Second) // a failed settle: the hold expires instead
	}()
}

func startSandbox(voice fasthttp.RequestHandler) (voiceURL, smsURL string, stop func(), err error) {
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
	for _, h := range []fasthttp.RequestHandler{voice, sandboxSMS} {
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
