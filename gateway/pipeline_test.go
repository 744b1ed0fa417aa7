package gateway

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/valyala/fasthttp"
)

// pipeUpstream is an upstream that echoes the request id it was sent and records the
// connections requests came on, and how many requests each read from a connection carried.
// Path ".../Drop/" closes the connection without answering.
type pipeUpstream struct {
	url   string
	mu    sync.Mutex
	conns map[uint64]int // requests per connection
	reads []int          // requests begun in each read, in order, all connections
}

// readCounter is a connection of pipeUpstream that records its reads.
type readCounter struct {
	net.Conn
	u *pipeUpstream
}

func (c readCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.u.mu.Lock()
		c.u.reads = append(c.u.reads, bytes.Count(p[:n], []byte("POST ")))
		c.u.mu.Unlock()
	}
	return n, err
}

type readCountingListener struct {
	net.Listener
	u *pipeUpstream
}

func (l readCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return readCounter{c, l.u}, nil
}

func startPipeUpstream(t *testing.T, delay time.Duration) *pipeUpstream {
	t.Helper()
	u := &pipeUpstream{conns: map[uint64]int{}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		u.mu.Lock()
		u.conns[rc.ConnID()]++
		u.mu.Unlock()
		if bytes.Contains(rc.Path(), []byte("/Drop/")) {
			rc.HijackSetNoResponse(true)
			rc.Hijack(func(c net.Conn) { c.Close() })
			return
		}
		time.Sleep(delay)
		rc.SetStatusCode(201)
		rc.SetContentType("application/json")
		rc.SetBodyString(`{"echo":"` + string(rc.Request.Header.Peek(hRequestID)) + `"}`)
	}}
	go srv.Serve(readCountingListener{ln, u}) //nolint:errcheck
	t.Cleanup(func() { srv.Shutdown() })
	u.url = "http://" + ln.Addr().String()
	return u
}

func (u *pipeUpstream) connections() (conns, requests int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range u.conns {
		requests += n
	}
	return len(u.conns), requests
}

// TestPipelinedUpstream: with Pipeline 2, many concurrent requests share two upstream
// connections, each client gets the answer to its own request, and the money is exact.
func TestPipelinedUpstream(t *testing.T) {
	up := startPipeUpstream(t, 2*time.Millisecond)
	f := newFixture(t, func(o *Options) {
		o.Upstreams["voice"] = Upstream{URL: up.url, Timeout: 5 * time.Second, ConnectTimeout: time.Second, MaxConns: 64, Pipeline: 2}
	})
	m := f.mk(nil, "100.00")
	k := f.mk(m, "")
	const clients, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for range each {
				req.Reset()
				req.Header.SetMethod("POST")
				req.SetRequestURI("http://" + f.addr + callPath(k))
				req.Header.Set("X-Auth-ID", k.ID)
				req.Header.Set("X-Auth-Token", k.Token)
				req.SetBodyString(`{"to":"1"}`)
				if err := f.hc.DoTimeout(req, resp, 10*time.Second); err != nil {
					errs <- err.Error()
					continue
				}
				rid := string(resp.Header.Peek(hRequestID))
				if resp.StatusCode() != 201 || rid == "" || string(resp.Body()) != `{"echo":"`+rid+`"}` {
					errs <- "answer " + resp.String()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	conns, reqs := up.connections()
	if reqs != clients*each || conns > 2 {
		t.Errorf("upstream saw %d requests on %d connections, want %d on at most 2", reqs, conns, clients*each)
	}
	if got, want := f.bal(m), testkit.Amt("96.00"); got != want { // 400 × 0.01
		t.Errorf("balance %v, want %v", got, want)
	}
}

// TestPipelineDelay: a request that finds the pipelined connection idle waits PipelineDelay
// before it is written, and one that comes meanwhile goes out in the same write (the
// upstream reads both at once).
func TestPipelineDelay(t *testing.T) {
	const delay = time.Second // long next to the 50 ms between the two requests
	up := startPipeUpstream(t, 0)
	f := newFixture(t, func(o *Options) {
		o.Upstreams["voice"] = Upstream{URL: up.url, Timeout: 10 * time.Second, ConnectTimeout: time.Second,
			Pipeline: 1, PipelineDelay: delay}
	})
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	start := time.Now()
	var wg sync.WaitGroup
	took := make([]time.Duration, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a := f.do(call{path: callPath(k), as: k}); a.Status != 201 || string(a.Body) != `{"echo":"`+a.Header["X-Request-Id"]+`"}` {
				t.Errorf("request %d: %d %s %v", i, a.Status, a.Body, a.Header)
			}
			took[i] = time.Since(start)
		}()
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if took[0] < delay {
		t.Errorf("the first request was answered after %v, before the pipeline delay of %v", took[0], delay)
	}
	up.mu.Lock()
	reads := append([]int(nil), up.reads...)
	up.mu.Unlock()
	if len(reads) == 0 || reads[0] != 2 {
		t.Errorf("requests per upstream read %v, want both in the first", reads)
	}
	if got := f.bal(m); got != testkit.Amt("0.98") {
		t.Errorf("balance %v, want 0.98", got)
	}
}

// TestPipelinedUpstreamFailure: a pipelined connection that breaks, an answer that comes
// too late and an upstream that cannot be reached are each a failed request, refunded once,
// like without pipelining.
func TestPipelinedUpstreamFailure(t *testing.T) {
	up := startPipeUpstream(t, 0)
	slow := startPipeUpstream(t, time.Second)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() // nothing listens there
	ln.Close()
	f := newFixture(t, func(o *Options) {
		o.Upstreams["voice"] = Upstream{URL: up.url, Timeout: 2 * time.Second, ConnectTimeout: time.Second, Pipeline: 1}
		o.Upstreams["slow"] = Upstream{URL: slow.url, Timeout: 200 * time.Millisecond, ConnectTimeout: time.Second, Pipeline: 1}
		o.Upstreams["down"] = Upstream{URL: down, Timeout: 5 * time.Second, ConnectTimeout: time.Second, Pipeline: 1}
		o.Routes = append(append([]policyRouteSpec(nil), o.Routes...),
			policyRouteSpec{Name: "drop", Method: "POST", Path: "/v1/Account/{auth_id}/Drop/", Upstream: "voice", Permission: "calls", Price: "0.02"},
			policyRouteSpec{Name: "slow", Method: "POST", Path: "/v1/Account/{auth_id}/Slow/", Upstream: "slow", Permission: "calls", Price: "0.02"},
			policyRouteSpec{Name: "down", Method: "POST", Path: "/v1/Account/{auth_id}/Down/", Upstream: "down", Permission: "calls", Price: "0.02"})
	})
	m := f.mk(nil, "1.00")
	k := f.mk(m, "")
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{{"/Drop/", 502, "UPSTREAM_UNAVAILABLE"}, {"/Slow/", 504, "UPSTREAM_TIMEOUT"},
		// an upstream that refuses connections fails at once, as without pipelining (not
		// 504 after its 5 s timeout)
		{"/Down/", 502, "UPSTREAM_UNAVAILABLE"}} {
		a := f.do(call{path: "/v1/Account/" + k.ID + c.path, as: k})
		if a.Status != c.status || a.Err.Error.Code != c.code || a.Header["X-Charge"] != "0.00" {
			t.Errorf("%s: answer %d %s %v, want %d %s", c.path, a.Status, a.Body, a.Header, c.status, c.code)
		}
		if got := f.bal(m); got != testkit.Amt("1.00") {
			t.Errorf("%s: balance %v after refund, want 1.00", c.path, got)
		}
	}
	// The pipelined connection is replaced: the next request goes through.
	if a := f.do(call{path: callPath(k), as: k}); a.Status != 201 {
		t.Errorf("after a dropped connection: %d %s", a.Status, a.Body)
	}
	if got := f.bal(m); got != testkit.Amt("0.99") {
		t.Errorf("balance %v, want 0.99", got)
	}
}
