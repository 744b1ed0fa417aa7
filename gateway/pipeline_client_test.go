package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// rawBackend is a TCP backend whose connections a test scripts: serve gets each accepted
// connection (its number, from 1) with a reader over it.
type rawBackend struct {
	addr     string
	accepted atomic.Int32
}

func startRawBackend(t *testing.T, serve func(n int, c net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(b.accepted.Add(1))
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return b
}

// readReq reads one request from br; false at the end of the connection.
func readReq(br *bufio.Reader, req *fasthttp.Request) bool {
	req.Reset()
	return req.Read(br) == nil
}

// echoAnswer is an answer whose body names the request's URI.
func echoAnswer(req *fasthttp.Request, extra string) string {
	body := string(req.Header.Method()) + " " + string(req.Header.RequestURI()) + " ua=" + string(req.Header.UserAgent())
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
}

// echoServe answers every request with echoAnswer.
func echoServe(_ int, c net.Conn, br *bufio.Reader) {
	var req fasthttp.Request
	for readReq(br, &req) {
		if _, err := io.WriteString(c, echoAnswer(&req, "")); err != nil {
			return
		}
	}
}

func testPipeClient(addr string, pipeline, maxConns int, tweak func(*Upstream)) *pipeClient {
	u := Upstream{Timeout: 5 * time.Second, ConnectTimeout: time.Second, MaxConns: maxConns,
		Pipeline: pipeline, MaxResponseBytes: 1 << 20}
	if tweak != nil {
		tweak(&u)
	}
	d := &net.Dialer{Timeout: u.ConnectTimeout}
	return newPipeClient(addr, nil, func(a string) (net.Conn, error) { return d.Dial("tcp", a) }, u)
}

// pipeGet sends a request for uri and answers status and body, or the error.
func pipeGet(cl *pipeClient, method, uri string, hdr ...string) (int, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("backend")
	req.URI().SetHost("backend") // as the gateway does: the URI is parsed, and written out from it
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	err := cl.do(req, resp)
	return resp.StatusCode(), string(resp.Body()), err
}

// TestPipeClientConcurrentOwnAnswers: many callers at once on one connection, each gets the
// answer to its own request; the path goes out exactly as given (not normalised) and a
// request without a User-Agent gets the gateway's.
func TestPipeClientConcurrentOwnAnswers(t *testing.T) {
	b := startRawBackend(t, echoServe)
	cl := testPipeClient(b.addr, 1, 512, func(u *Upstream) { u.PipelineDelay = 50 * time.Microsecond })
	defer cl.close()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				uri := fmt.Sprintf("/x/../v1/%d/%%2Fcall?i=%d", g, i)
				st, body, err := pipeGet(cl, "POST", uri)
				if err != nil || st != 200 || body != "POST "+uri+" ua=tenant-gateway" {
					t.Errorf("%s: %d %q %v", uri, st, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := b.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if _, body, err := pipeGet(cl, "GET", "/ua", "User-Agent", "caller/1"); err != nil || body != "GET /ua ua=caller/1" {
		t.Errorf("own User-Agent: %q %v", body, err)
	}
}

// wantAnswered checks that a request for uri now gets its answer, and that the backend has
// accepted conns connections in all (a broken or closed one was replaced).
func wantAnswered(t *testing.T, cl *pipeClient, b *rawBackend, uri string, conns int32) {
	t.Helper()
	if _, body, err := pipeGet(cl, "POST", uri); err != nil || body != "POST "+uri+" ua=tenant-gateway" {
		t.Errorf("%s: %q %v", uri, body, err)
	}
	if n := b.accepted.Load(); n != conns {
		t.Errorf("%d connections, want %d", n, conns)
	}
}

// twoAtOnce sends two requests 20 ms apart, both on the client's one connection (usually in
// one write: the first waits the pipeline delay), and answers their results.
func twoAtOnce(cl *pipeClient, m1, u1, m2, u2 string) (r [2]struct {
	status int
	body   string
	err    error
}) {
	var wg sync.WaitGroup
	for i, mu := range [][2]string{{m1, u1}, {m2, u2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r[i].status, r[i].body, r[i].err = pipeGet(cl, mu[0], mu[1])
		}()
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	return r
}

// TestPipeClientHeadHasNoBody: an answer to HEAD carries a Content-Length but no body; the
// answer after it on the connection is read as its own.
func TestPipeClientHeadHasNoBody(t *testing.T) {
	b := startRawBackend(t, func(_ int, c net.Conn, br *bufio.Reader) {
		// Both requests are read before either is answered, and both answers go out in one
		// write: the client reads them from one buffer.
		var head, get fasthttp.Request
		if readReq(br, &head) && readReq(br, &get) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"+echoAnswer(&get, "")) //nolint:errcheck
		}
	})
	cl := testPipeClient(b.addr, 1, 8, func(u *Upstream) { u.PipelineDelay = 200 * time.Millisecond })
	defer cl.close()
	r := twoAtOnce(cl, "HEAD", "/h", "GET", "/g")
	if r[0].err != nil || r[0].status != 200 || r[0].body != "" {
		t.Errorf("HEAD: %d %q %v", r[0].status, r[0].body, r[0].err)
	}
	if r[1].err != nil || r[1].body != "GET /g ua=tenant-gateway" {
		t.Errorf("GET after HEAD: %d %q %v", r[1].status, r[1].body, r[1].err)
	}
}

// TestPipeClientConnectionClose: a backend that answers "Connection: close" and closes
// leaves the request written after it unanswered: that one fails, and the next request
// goes on a new connection.
func TestPipeClientConnectionClose(t *testing.T) {
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 1 {
			// Reads both requests, answers the first with Connection: close, and closes.
			var first, second fasthttp.Request
			if readReq(br, &first) && readReq(br, &second) {
				io.WriteString(c, echoAnswer(&first, "Connection: close\r\n")) //nolint:errcheck
			}
			return
		}
		echoServe(n, c, br)
	})
	cl := testPipeClient(b.addr, 1, 8, func(u *Upstream) { u.PipelineDelay = 200 * time.Millisecond })
	defer cl.close()
	r := twoAtOnce(cl, "POST", "/1", "POST", "/2")
	if r[0].err != nil || r[0].body != "POST /1 ua=tenant-gateway" {
		t.Errorf("first: %d %q %v", r[0].status, r[0].body, r[0].err)
	}
	if !errors.Is(r[1].err, errPipelineClosed) {
		t.Errorf("second: %d %q %v, want errPipelineClosed", r[1].status, r[1].body, r[1].err)
	}
	if out, _ := upstreamFailure(r[1].err); out != OutcomeUpstreamUnavailable {
		t.Errorf("second: outcome %v, want unavailable (502)", out)
	}
	wantAnswered(t, cl, b, "/3", 2)
}

// TestPipeClientTimeout: a backend that does not answer in time fails the request waiting
// for it and the one behind it as timeouts (504); the connection is replaced.
func TestPipeClientTimeout(t *testing.T) {
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n == 1 {
			io.Copy(io.Discard, br) //nolint:errcheck // reads, never answers
			return
		}
		echoServe(n, c, br)
	})
	cl := testPipeClient(b.addr, 1, 8, func(u *Upstream) {
		u.Timeout = time.Second // long next to the 20 ms between the two requests
		u.PipelineDelay = 100 * time.Millisecond
	})
	defer cl.close()
	start := time.Now()
	r := twoAtOnce(cl, "POST", "/1", "POST", "/2")
	for i, x := range r {
		if out, _ := upstreamFailure(x.err); x.err == nil || out != OutcomeUpstreamTimeout {
			t.Errorf("request %d: %d %q %v, want a timeout", i, x.status, x.body, x.err)
		}
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("failed after %v, before the timeout", took)
	}
	wantAnswered(t, cl, b, "/3", 2)
}

// TestPipeClientFull: with every connection holding its share of max_conns, a request
// waits up to the connect timeout for room and then fails (502), without being written.
func TestPipeClientFull(t *testing.T) {
	var got atomic.Int32
	release := make(chan struct{})
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for readReq(br, &req) {
			got.Add(1)
			<-release
			io.WriteString(c, echoAnswer(&req, "")) //nolint:errcheck
		}
	})
	// Pipeline 1, max_conns 2: two requests at a time.
	cl := testPipeClient(b.addr, 1, 2, func(u *Upstream) { u.ConnectTimeout = 200 * time.Millisecond })
	defer cl.close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, errs[i] = pipeGet(cl, "POST", "/"+strconv.Itoa(i)) }()
	}
	for pendingOn(cl) < 2 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, _, err := pipeGet(cl, "POST", "/third")
	if !errors.Is(err, errPipelineFull) {
		t.Errorf("third: %v, want errPipelineFull", err)
	}
	if out, _ := upstreamFailure(err); out != OutcomeUpstreamUnavailable {
		t.Errorf("third: outcome %v, want unavailable (502)", out)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("gave up after %v, before the connect timeout", took)
	}
	close(release)
	wg.Wait()
	for i, e := range errs {
		if e != nil {
			t.Errorf("request %d: %v", i, e)
		}
	}
	if n := got.Load(); n != 2 {
		t.Errorf("backend read %d requests, want 2 (the third is never written)", n)
	}
}

// pendingOn answers how many requests wait for answers on cl's connections.
func pendingOn(cl *pipeClient) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	n := 0
	for _, pc := range cl.conns {
		n += int(pc.waiting.Load())
	}
	return n
}

// TestPipeClientIdleClose: a connection idle for the idle time is closed by the gateway
// (before the backend's keep-alive ends it under a request), and the next request dials a
// new one.
func TestPipeClientIdleClose(t *testing.T) {
	closed := make(chan int, 4)
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		echoServe(n, c, br)
		closed <- n // the gateway closed it
	})
	cl := testPipeClient(b.addr, 1, 8, nil)
	cl.idle = 100 * time.Millisecond
	defer cl.close()
	if _, _, err := pipeGet(cl, "POST", "/1"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-closed:
		if n != 1 {
			t.Fatalf("connection %d closed", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	wantAnswered(t, cl, b, "/2", 2)
}

// TestPipeClientBodyTooLarge: an answer over max_response_bytes fails its request and the
// connection (what follows it cannot be found); the next request goes on a new one.
func TestPipeClientBodyTooLarge(t *testing.T) {
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for readReq(br, &req) {
			if string(req.Header.RequestURI()) == "/big" {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"+strings.Repeat("x", 100)) //nolint:errcheck
				continue
			}
			io.WriteString(c, echoAnswer(&req, "")) //nolint:errcheck
		}
	})
	cl := testPipeClient(b.addr, 1, 8, func(u *Upstream) { u.MaxResponseBytes = 64 })
	defer cl.close()
	if _, _, err := pipeGet(cl, "POST", "/big"); !errors.Is(err, fasthttp.ErrBodyTooLarge) {
		t.Errorf("big answer: %v, want ErrBodyTooLarge", err)
	}
	wantAnswered(t, cl, b, "/small", 2)
}

// TestPipeClientClose: close fails the requests waiting and every later one.
func TestPipeClientClose(t *testing.T) {
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) { io.Copy(io.Discard, br) }) //nolint:errcheck
	cl := testPipeClient(b.addr, 1, 8, nil)
	done := make(chan error, 1)
	go func() { _, _, err := pipeGet(cl, "POST", "/1"); done <- err }()
	for b.accepted.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cl.close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the waiting request succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request still waits after close")
	}
	if _, _, err := pipeGet(cl, "POST", "/2"); !errors.Is(err, errPipelineClosed) {
		t.Errorf("after close: %v, want errPipelineClosed", err)
	}
}

// TestPipeClientBreaksUnderLoad: connections that break after a random number of answers,
// under many concurrent callers: every caller gets either its own answer or an error,
// none waits forever, and no connection is left open beyond the limit.
func TestPipeClientBreaksUnderLoad(t *testing.T) {
	b := startRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		left := 1 + rand.IntN(30)
		var req fasthttp.Request
		for readReq(br, &req) {
			if left--; left == 0 {
				return // closes with requests unanswered
			}
			io.WriteString(c, echoAnswer(&req, "")) //nolint:errcheck
		}
	})
	cl := testPipeClient(b.addr, 3, 64, func(u *Upstream) { u.PipelineDelay = 20 * time.Microsecond })
	defer cl.close()
	var ok, failed atomic.Int32
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				uri := fmt.Sprintf("/%d/%d", g, i)
				_, body, err := pipeGet(cl, "POST", uri)
				switch {
				case err != nil:
					failed.Add(1)
				case body != "POST "+uri+" ua=tenant-gateway":
					t.Errorf("%s got %q", uri, body)
				default:
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load()+failed.Load() != 24*60 || ok.Load() == 0 || failed.Load() == 0 {
		t.Errorf("%d answered, %d failed, of %d", ok.Load(), failed.Load(), 24*60)
	}
	cl.mu.Lock()
	open := len(cl.conns)
	cl.mu.Unlock()
	if open > 3 {
		t.Errorf("%d connections open, want at most 3", open)
	}
}

// TestPipeClientTLS: a pipelined https backend (Go's server answers pipelined requests in
// order).
func TestPipeClientTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.RequestURI+" ua="+r.UserAgent()) //nolint:errcheck
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	u := Upstream{Timeout: 5 * time.Second, ConnectTimeout: time.Second, MaxConns: 64, Pipeline: 1,
		MaxResponseBytes: 1 << 20, PipelineDelay: 50 * time.Microsecond}
	d := &net.Dialer{Timeout: time.Second}
	cl := newPipeClient(srv.Listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com"},
		func(a string) (net.Conn, error) { return d.Dial("tcp", a) }, u)
	defer cl.close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				uri := fmt.Sprintf("/%d/%d", g, i)
				if _, body, err := pipeGet(cl, "POST", uri); err != nil || body != "POST "+uri+" ua=tenant-gateway" {
					t.Errorf("%s: %q %v", uri, body, err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestPipeClientDialFailure: when a second connection cannot be dialled, the request goes
// on the open one; when there is no open one, the requests waiting for a dial that fails
// fail with it, instead of each dialling (and, against a backend that does not answer,
// waiting connect_timeout) in its turn.
func TestPipeClientDialFailure(t *testing.T) {
	release := make(chan struct{})
	b := startRawBackend(t, func(_ int, c net.Conn, br *bufio.Reader) {
		var req fasthttp.Request
		for readReq(br, &req) {
			<-release
			io.WriteString(c, echoAnswer(&req, "")) //nolint:errcheck
		}
	})
	refused := errors.New("dial refused (test)")
	var dials atomic.Int32
	u := Upstream{Timeout: 5 * time.Second, ConnectTimeout: time.Second, MaxConns: 64, Pipeline: 2, MaxResponseBytes: 1 << 20}
	cl := newPipeClient(b.addr, nil, func(a string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return net.Dial("tcp", a)
		}
		return nil, refused
	}, u)
	defer cl.close()
	first := make(chan error, 1)
	go func() { _, _, err := pipeGet(cl, "POST", "/1"); first <- err }()
	for pendingOn(cl) < 1 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() { _, _, err := pipeGet(cl, "POST", "/2"); second <- err }()
	for pendingOn(cl) < 2 && len(second) == 0 { // on the connection, or failed
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err1, err2 := <-first, <-second; err1 != nil || err2 != nil {
		t.Errorf("with one connection open and the second refused: %v, %v", err1, err2)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2", n)
	}

	// No connection at all: five requests, one dial that fails once the other four wait.
	dials.Store(0)
	var cl2 *pipeClient
	cl2 = newPipeClient(b.addr, nil, func(string) (net.Conn, error) {
		dials.Add(1)
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			cl2.mu.Lock()
			w := cl2.waiters
			cl2.mu.Unlock()
			if w == 4 {
				break
			}
		}
		return nil, refused
	}, Upstream{Timeout: 5 * time.Second, ConnectTimeout: time.Second, MaxConns: 64, Pipeline: 1, MaxResponseBytes: 1 << 20})
	defer cl2.close()
	errs := make(chan error, 5)
	for i := range 5 {
		go func() { _, _, err := pipeGet(cl2, "POST", "/"+strconv.Itoa(i)); errs <- err }()
	}
	for range 5 {
		if err := <-errs; !errors.Is(err, refused) {
			t.Errorf("request: %v, want the dial's error", err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}
