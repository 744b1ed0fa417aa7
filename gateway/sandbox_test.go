package gateway

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// settleRecorder is an operator listener that records the Settles it receives.
type settleRecorder struct {
	mu  sync.Mutex
	got []string // "Authorization path body"
	hit chan struct{}
}

func startSettleRecorder(t *testing.T) (*settleRecorder, string) {
	t.Helper()
	r := &settleRecorder{hit: make(chan struct{}, 16)}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		r.mu.Lock()
		r.got = append(r.got, string(rc.Request.Header.Peek("Authorization"))+" "+string(rc.Method())+" "+string(rc.Path())+" "+string(rc.PostBody()))
		r.mu.Unlock()
		rc.SetStatusCode(200)
		r.hit <- struct{}{}
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return r, "http://" + ln.Addr().String()
}

func sandboxCall(t *testing.T, voiceURL string, hdr map[string]string) int {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(voiceURL + "/v1/Account/SA_X/Call/")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBodyString(`{"from":"+14155550100","to":"+14155550111"}`)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode()
}

// TestSandboxSettlesWithinMaxDuration: the sandbox voice backend settles a call that carries
// a hold through the operator API, with the token it was given and a duration that is never
// more than X-Call-Max-Duration (here 1 s, under a talk of up to 3 s); a call without a
// hold is answered and never settled.
func TestSandboxSettlesWithinMaxDuration(t *testing.T) {
	rec, opURL := startSettleRecorder(t)
	sb, err := StartSandboxCalls(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Stop()
	sb.SandboxCalls(opURL, "voice-token")
	if s := sandboxCall(t, sb.VoiceURL, nil); s != 201 {
		t.Fatalf("a call without a hold: %d", s)
	}
	if s := sandboxCall(t, sb.VoiceURL, map[string]string{hCallHoldID: "HL_AAAAAAAAAAAAAAAAAAAA", hCallMaxDur: "1"}); s != 201 {
		t.Fatalf("a call with a hold: %d", s)
	}
	select {
	case <-rec.hit:
	case <-time.After(10 * time.Second):
		t.Fatal("no settle within 10s")
	}
	time.Sleep(50 * time.Millisecond) // nothing else is to come
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := `Bearer voice-token POST /admin/v1/Hold/HL_AAAAAAAAAAAAAAAAAAAA/Settle/ {"duration":1}`
	if len(rec.got) != 1 || rec.got[0] != want {
		t.Errorf("settles %q, want [%q]", rec.got, want)
	}
}

// TestSandboxStopEndsTalks: calls still talking when the sandbox stops are not settled
// (their holds expire), and Stop does not wait out their talk.
func TestSandboxStopEndsTalks(t *testing.T) {
	rec, opURL := startSettleRecorder(t)
	sb, err := StartSandboxCalls(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sb.SandboxCalls(opURL, "voice-token")
	for range 3 {
		if s := sandboxCall(t, sb.VoiceURL, map[string]string{hCallHoldID: "HL_BBBBBBBBBBBBBBBBBBBB", hCallMaxDur: "600"}); s != 201 {
			t.Fatalf("call: %d", s)
		}
	}
	stopped := make(chan struct{})
	go func() { sb.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for the calls' talk")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != 0 {
		t.Errorf("settled after Stop: %q", rec.got)
	}
}
