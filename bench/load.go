package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// phaseSpec is one phase of load: the same request, over and over, from many workers, for
// each account in turn (round robin over paths and headers).
type phaseSpec struct {
	name        string        // "gateway", "bare" or "direct"
	base        string        // base URL; its path, if any, prefixes each path
	paths       []string      // one per account, {auth_id} filled in
	headers     [][][2]string // one per account (same length as paths)
	method      string
	body        []byte
	meters      *meters // CPU of processes and of Redis during the phase; nil: none
	concurrency int
	duration    time.Duration // 0: no time bound
	requests    int64         // 0: no count bound
	timeout     time.Duration
	progress    io.Writer
}

// worker is owned by one goroutine while the phase runs; only done is read by others.
type worker struct {
	done     atomic.Int64 // requests completed, for progress
	hist     Histogram
	status   [600]int64
	errKinds map[string]int64
	firstErr error
}

// hostClient builds the shared load client for base: one connection per worker at most,
// every timeout explicit.
func hostClient(base string, conns int, timeout time.Duration) (*fasthttp.HostClient, string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, "", fmt.Errorf("url %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("url %q: want http://host[:port] or https://host[:port]", base)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	hc := &fasthttp.HostClient{
		Addr:                          addr,
		IsTLS:                         u.Scheme == "https",
		Name:                          "gateway-bench",
		MaxConns:                      conns,
		ReadTimeout:                   timeout,
		WriteTimeout:                  timeout,
		MaxConnWaitTimeout:            timeout,
		MaxIdleConnDuration:           10 * time.Second,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	return hc, u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), nil
}

// runPhase drives one target until a bound is reached or ctx is done, and reports.
func runPhase(ctx context.Context, s phaseSpec) (*Phase, error) {
	hc, base, err := hostClient(s.base, s.concurrency, s.timeout)
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	uris := make([]string, len(s.paths))
	for i, p := range s.paths {
		uris[i] = base + p
	}

	var stop atomic.Bool
	var issued, next atomic.Int64
	workers := make([]*worker, s.concurrency)
	var wg sync.WaitGroup
	ticks := readTicks()
	before := s.meters.read(ctx)
	start := time.Now()
	for i := range workers {
		w := &worker{errKinds: map[string]int64{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(hc, s, uris, &stop, &issued, &next)
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	var timeUp <-chan time.Time
	if s.duration > 0 {
		t := time.NewTimer(s.duration)
		defer t.Stop()
		timeUp = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	lastAt := start
	cancelled := ctx.Done()
wait:
	for {
		select {
		case <-allDone:
			break wait
		case <-cancelled:
			stop.Store(true)
			cancelled = nil // fires once; then wait for the requests in flight
		case <-timeUp:
			stop.Store(true)
		case now := <-tick.C:
			if s.progress != nil {
				var n int64
				for _, w := range workers {
					n += w.done.Load()
				}
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				fmt.Fprintf(s.progress, "%-7s %6.1fs %10d requests %10.0f req/s\n",
					s.name, now.Sub(start).Seconds(), n, rate)
				last, lastAt = n, now
			}
		}
	}
	elapsed := time.Since(start)
	use := s.meters.read(context.WithoutCancel(ctx)).since(before, s.meters)

	p := &Phase{Name: s.name, URL: uris[0], Status: map[int]int64{}, Hist: &Histogram{}, cpu: readTicks().since(ticks), use: use}
	kinds := map[string]int64{}
	for _, w := range workers {
		p.Hist.Merge(&w.hist)
		for code, n := range w.status {
			if n > 0 {
				p.Status[code] += n
				p.Requests += n
				if code >= 200 && code < 300 {
					p.Success += n
				}
			}
		}
		for k, n := range w.errKinds {
			kinds[k] += n
			p.Errors += n
			p.Requests += n
		}
		if w.firstErr != nil && p.FirstError == "" {
			p.FirstError = w.firstErr.Error()
		}
	}
	if len(kinds) > 0 {
		p.ErrorKinds = kinds
	}
	p.finish(elapsed)
	return p, nil
}

// run sends requests until stop or the count bound. With one account the request is built
// once; with several, each request takes the next account of the phase (next counts them for
// all workers), so the accounts are used round robin, each within one of the others' count.
func (w *worker) run(hc *fasthttp.HostClient, s phaseSpec, uris []string, stop *atomic.Bool, issued, next *atomic.Int64) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.DisableNormalizing()
	req.Header.SetMethod(s.method)
	account := func(i int) {
		req.SetRequestURI(uris[i])
		for _, h := range s.headers[i] {
			req.Header.Set(h[0], h[1])
		}
	}
	account(0)
	if len(s.body) > 0 {
		req.Header.SetContentType("application/json")
		req.SetBody(s.body)
	}
	for !stop.Load() {
		if s.requests > 0 && issued.Add(1) > s.requests {
			return
		}
		if len(uris) > 1 {
			account(int((next.Add(1) - 1) % int64(len(uris))))
		}
		t0 := time.Now()
		err := hc.Do(req, resp)
		lat := time.Since(t0)
		if err != nil {
			w.errKinds[errKind(err)]++
			if w.firstErr == nil {
				w.firstErr = err
			}
		} else {
			code := resp.StatusCode()
			if code < 0 || code >= len(w.status) {
				code = 0
			}
			w.status[code]++
			w.hist.Record(lat)
		}
		w.done.Add(1)
	}
}

// errKind names a transport error with a bounded vocabulary.
func errKind(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection_closed"
	case errors.As(err, &op) && op.Op == "dial":
		return "dial"
	default:
		return "other"
	}
}
