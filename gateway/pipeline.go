package gateway

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// pipeClient sends HTTP/1.1 requests pipelined over at most maxConns connections to one
// backend (Upstream.Pipeline). It replaces fasthttp's PipelineClient on the hot path: that
// one hands each request from the caller to a writer goroutine, then to a reader goroutine,
// and back, copies the request and the response, and arms a timer per request. Here:
//
//   - The caller writes its request into the connection's buffer itself, under the
//     connection's lock, and queues itself for the answer. The first request that finds
//     nothing waiting to be written schedules the write: it waits delay (pipeline_delay) and
//     then writes the buffer out, with every request that came meanwhile.
//   - One reader goroutine per connection reads the answers in order, each straight into its
//     caller's response, and wakes that caller: one hand-off per request.
//   - A request's timeout is the deadline of the read of its answer (and of the write that
//     carries it); it is never abandoned by its caller, which is why the answer can be read
//     into the caller's response and the request need not be copied. When a read or a write
//     fails, or the backend answers "Connection: close", the connection is done for: every
//     request still waiting on it gets the error (a timeout stays a timeout, 504; anything
//     else is 502), and later requests go on another connection. A request so waits at
//     most about connectTimeout (for a dial, or for room) plus timeout.
//   - A connection idle for idle (4 s) is closed by its reader.
//
// Each request goes on the open connection with the fewest answers pending; a new one is
// dialled while there are fewer than maxConns and every open one has answers pending (if
// that dial fails, the request goes on the open one all the same). A connection takes at
// most maxPending requests at a time; when every connection is full a request waits up to
// connectTimeout for room, then fails as 502 (errPipelineFull).
type pipeClient struct {
	addr           string
	tlsConfig      *tls.Config // nil: plain TCP
	dial           func(addr string) (net.Conn, error)
	maxConns       int
	maxPending     int
	delay          time.Duration
	timeout        time.Duration
	connectTimeout time.Duration
	maxBody        int
	idle           time.Duration

	mu        sync.Mutex
	conns     []*pipeConn
	dialing   int
	dialed    *sync.Cond // on mu: a dial ended
	dialFails int        // dials failed so far, the last with dialErr
	dialErr   error
	waiters   int // requests waiting for a dial to end (tests look)
	closed    bool
}

var (
	errPipelineFull   = errors.New("pipelined upstream: every connection is full")
	errPipelineClosed = errors.New("pipelined upstream: connection closed")
)

// pipeConn is one pipelined connection and its reader.
type pipeConn struct {
	cl      *pipeClient
	nc      net.Conn
	pending chan *pipeCall // written (or in the buffer), awaiting their answers, in order
	waiting atomic.Int32   // requests sent and not yet answered (pending and the one being read)

	mu        sync.Mutex // guards bw, wdl, scheduled and err
	bw        *bufio.Writer
	wdl       time.Time     // the write deadline set last
	scheduled bool          // a write of the buffer is scheduled
	err       error         // set once: the connection is done for
	dead      atomic.Bool   // err is set (read without mu)
	gone      chan struct{} // closed with err set: wakes an idle reader
}

// pipeCall is one request waiting for its answer.
type pipeCall struct {
	resp     *fasthttp.Response
	head     bool
	deadline time.Time
	err      error
	done     chan struct{}
}

const userAgent = "tenant-gateway"

var pipeCallPool = sync.Pool{New: func() any { return &pipeCall{done: make(chan struct{}, 1)} }}

func newPipeClient(addr string, tlsConfig *tls.Config, dial func(string) (net.Conn, error), u Upstream) *pipeClient {
	cl := &pipeClient{addr: addr, tlsConfig: tlsConfig, dial: dial, maxConns: u.Pipeline,
		maxPending: (u.MaxConns + u.Pipeline - 1) / u.Pipeline, delay: u.PipelineDelay,
		timeout: u.Timeout, connectTimeout: u.ConnectTimeout, maxBody: u.MaxResponseBytes, idle: 4 * time.Second}
	cl.dialed = sync.NewCond(&cl.mu)
	return cl
}

// do sends req and reads the answer into resp. req is written out before do returns and
// not kept.
func (cl *pipeClient) do(req *fasthttp.Request, resp *fasthttp.Response) error {
	// As the fasthttp clients with DisablePathNormalizing and Name: the path goes out as it
	// came, and a request without a User-Agent gets ours.
	req.URI().DisablePathNormalizing = true
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgent(userAgent)
	}
	c := pipeCallPool.Get().(*pipeCall)
	c.resp, c.head, c.err = resp, req.Header.IsHead(), nil
	now := time.Now()
	c.deadline = now.Add(cl.timeout)
	waitUntil := now.Add(cl.connectTimeout)
	for backoff := 50 * time.Microsecond; ; {
		pc, err := cl.pick()
		if err != nil {
			c.resp = nil
			pipeCallPool.Put(c)
			return err
		}
		if pc != nil {
			sent, full := pc.send(req, c)
			if sent {
				break
			}
			if !full {
				continue // it broke meanwhile: pick another
			}
		}
		// Every connection is full.
		if time.Now().After(waitUntil) {
			c.resp = nil
			pipeCallPool.Put(c)
			return errPipelineFull
		}
		time.Sleep(backoff)
		if backoff < time.Millisecond {
			backoff *= 2
		}
	}
	<-c.done
	err := c.err
	c.resp, c.err = nil, nil
	pipeCallPool.Put(c)
	return err
}

// pick returns the open connection with the fewest answers pending, dialling a new one when
// that is allowed and useful; nil (and no error) when every connection is full.
func (cl *pipeClient) pick() (*pipeConn, error) {
	cl.mu.Lock()
	for {
		if cl.closed {
			cl.mu.Unlock()
			return nil, errPipelineClosed
		}
		var best *pipeConn
		least, live := -1, 0
		for _, pc := range cl.conns {
			if pc.dead.Load() {
				continue // its drain is about to remove it
			}
			live++
			if n := int(pc.waiting.Load()); least < 0 || n < least {
				best, least = pc, n
			}
		}
		if best != nil && (least == 0 || live+cl.dialing >= cl.maxConns) {
			cl.mu.Unlock()
			if least >= cl.maxPending {
				return nil, nil
			}
			return best, nil
		}
		if live+cl.dialing < cl.maxConns {
			cl.dialing++
			cl.mu.Unlock()
			pc, err := cl.open()
			cl.mu.Lock()
			cl.dialing--
			cl.dialed.Broadcast()
			if err != nil {
				cl.dialErr, cl.dialFails = err, cl.dialFails+1
				cl.mu.Unlock()
				if best != nil && least < cl.maxPending {
					return best, nil // one more connection would have been better, not needed
				}
				return nil, err
			}
			if cl.closed {
				cl.mu.Unlock()
				pc.fail(errPipelineClosed)
				return nil, errPipelineClosed
			}
			cl.conns = append(cl.conns, pc)
			cl.mu.Unlock()
			return pc, nil
		}
		// No open connection, and as many dials as allowed under way (live is 0, so dialing
		// is at least 1): wait for one to end. If one fails meanwhile, so does this request,
		// rather than dial in its turn: against a backend that does not answer, every request
		// waits at most one dial (connect_timeout), not one per request before it.
		fails := cl.dialFails
		cl.waiters++
		cl.dialed.Wait()
		cl.waiters--
		if cl.dialFails != fails {
			err := cl.dialErr
			cl.mu.Unlock()
			return nil, err
		}
	}
}

// open dials a connection and starts its reader.
func (cl *pipeClient) open() (*pipeConn, error) {
	nc, err := cl.dial(cl.addr)
	if err != nil {
		return nil, err
	}
	if cl.tlsConfig != nil {
		tc := tls.Client(nc, cl.tlsConfig)
		_ = tc.SetDeadline(time.Now().Add(cl.connectTimeout))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, err
		}
		_ = tc.SetDeadline(time.Time{})
		nc = tc
	}
	pc := &pipeConn{cl: cl, nc: nc, pending: make(chan *pipeCall, cl.maxPending), bw: bufio.NewWriterSize(nc, 4096),
		gone: make(chan struct{})}
	go pc.read()
	return pc, nil
}

// remove takes pc out of the client's connections.
func (cl *pipeClient) remove(pc *pipeConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, x := range cl.conns {
		if x == pc {
			last := len(cl.conns) - 1
			cl.conns[i] = cl.conns[last]
			cl.conns[last] = nil
			cl.conns = cl.conns[:last]
			return
		}
	}
}

// close closes every connection; requests waiting on them fail.
func (cl *pipeClient) close() {
	cl.mu.Lock()
	cl.closed = true
	conns := append([]*pipeConn(nil), cl.conns...)
	cl.mu.Unlock()
	for _, pc := range conns {
		pc.fail(errPipelineClosed)
	}
}

// send writes req into the connection's buffer and queues c for its answer. sent is false
// when the connection is done for (full: false) or has maxPending answers pending (full: true).
func (pc *pipeConn) send(req *fasthttp.Request, c *pipeCall) (sent, full bool) {
	pc.mu.Lock()
	if pc.err != nil {
		pc.mu.Unlock()
		return false, false
	}
	if int(pc.waiting.Load()) >= pc.cl.maxPending {
		pc.mu.Unlock()
		return false, true
	}
	err := pc.writeDeadlineLocked() // a big request is partly written out by req.Write
	if err == nil {
		err = req.Write(pc.bw)
	}
	if err != nil {
		// Part of it may be in the buffer (or already written): the connection is done for.
		c.err = err
		pc.failLocked(err) // the reader answers those pending
		pc.mu.Unlock()
		c.done <- struct{}{}
		return true, false
	}
	pc.waiting.Add(1)
	pc.pending <- c // never blocks: only senders add, under mu, and there is room
	flush := !pc.scheduled
	pc.scheduled = true
	pc.mu.Unlock()
	if flush {
		if pc.cl.delay > 0 {
			time.Sleep(pc.cl.delay)
		}
		pc.flush()
	}
	return true, false
}

// flush writes out the buffer: the scheduled write.
func (pc *pipeConn) flush() {
	pc.mu.Lock()
	pc.scheduled = false
	if pc.err != nil || pc.bw.Buffered() == 0 {
		pc.mu.Unlock()
		return
	}
	err := pc.writeDeadlineLocked()
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		pc.failLocked(err) // the reader answers those pending
	}
	pc.mu.Unlock()
}

// writeDeadlineLocked makes the write deadline a timeout from now, give or take a
// millisecond (moved only when that far off, to spare a call per request).
func (pc *pipeConn) writeDeadlineLocked() error {
	d := time.Now().Add(pc.cl.timeout)
	if d.Sub(pc.wdl) < time.Millisecond {
		return nil
	}
	pc.wdl = d
	return pc.nc.SetWriteDeadline(d)
}

// failLocked marks the connection done for and closes it (pc.mu held). The reader then
// answers every request pending with the error: it is the only one that takes requests
// off pending, so that each answer it reads (one may still come from its buffer after the
// close) goes to the request it belongs to.
func (pc *pipeConn) failLocked(err error) {
	if pc.err != nil {
		return
	}
	pc.err = err
	pc.dead.Store(true)
	close(pc.gone)
	pc.nc.Close()
}

func (pc *pipeConn) fail(err error) {
	pc.mu.Lock()
	pc.failLocked(err)
	pc.mu.Unlock()
}

// drain answers every request still pending with err; the reader's, after failLocked (so
// nothing is added any more).
func (pc *pipeConn) drain(err error) {
	pc.cl.remove(pc)
	for {
		select {
		case c := <-pc.pending:
			c.err = err
			pc.waiting.Add(-1)
			c.done <- struct{}{}
		default:
			return
		}
	}
}

// read is the connection's reader: it reads the answers in order, each into its caller's
// response, until the connection fails or has been idle for cl.idle.
func (pc *pipeConn) read() {
	br := bufio.NewReaderSize(pc.nc, 4096)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	var set time.Time // the read deadline set last
	for {
		var c *pipeCall
		select {
		case c = <-pc.pending:
		default:
			idle.Reset(pc.cl.idle)
			select {
			case c = <-pc.pending:
				idle.Stop()
			case <-pc.gone: // failed by a write, or the client closed; nothing is pending
				idle.Stop()
				pc.drain(pc.err) // (set before gone closed)
				return
			case <-idle.C:
				pc.mu.Lock()
				if len(pc.pending) > 0 || pc.scheduled || pc.err != nil {
					pc.mu.Unlock()
					continue
				}
				pc.failLocked(errPipelineClosed)
				pc.mu.Unlock()
				pc.cl.remove(pc)
				return
			}
		}
		// The deadline is this answer's; moved only when it is later by a millisecond or
		// more (a request's timeout is that much approximate), to spare a call per answer.
		if c.deadline.Sub(set) >= time.Millisecond {
			set = c.deadline
			if err := pc.nc.SetReadDeadline(set); err != nil {
				pc.broken(c, err)
				return
			}
		}
		// A response to HEAD has no body whatever its Content-Length says (RFC 9112 §6.3):
		// reading one would take the next answers for it.
		skip := c.resp.SkipBody
		c.resp.SkipBody = skip || c.head
		err := c.resp.ReadLimitBody(br, pc.cl.maxBody)
		c.resp.SkipBody = skip
		if err != nil {
			pc.broken(c, err)
			return
		}
		pc.waiting.Add(-1)
		if c.resp.ConnectionClose() {
			// The backend closes after this answer: the ones written after it go unanswered.
			c.done <- struct{}{}
			pc.broken(nil, fmt.Errorf("pipelined upstream closed the connection: %w", errPipelineClosed))
			return
		}
		c.done <- struct{}{}
	}
}

// broken ends the connection after a failed read: c (if any) and every request pending get
// err.
func (pc *pipeConn) broken(c *pipeCall, err error) {
	if c != nil {
		c.err = err
		pc.waiting.Add(-1)
	}
	pc.fail(err)
	if c != nil {
		c.done <- struct{}{}
	}
	pc.drain(err)
}
