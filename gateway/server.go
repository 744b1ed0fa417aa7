package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tenantgw/gateway/config"
	"github.com/tenantgw/gateway/policy/wire"
)

// ServerOptions configure a listener's HTTP server (NewServer). Zero values take the
// documented defaults.
type ServerOptions struct {
	// Name names the server in fasthttp's own log lines; no Server header is sent.
	Name string
	// Handler serves every request fasthttp could read.
	Handler fasthttp.RequestHandler
	// ErrorHandler answers what fasthttp could not read; nil: ErrorHandler.
	ErrorHandler func(*fasthttp.RequestCtx, error)
	// MaxBodyBytes bounds a request body; 0: config.DefaultMaxBodyBytes. A Content-Length over it is
	// answered 413 before any of the body is read, a chunked body as soon as it exceeds it.
	MaxBodyBytes int
	// ReadTimeout, WriteTimeout and IdleTimeout; defaults 30s, 30s and 120s.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Logger receives what fasthttp reports (through ServerLogger: never what a client
	// sent); nil discards it.
	Logger *slog.Logger
}

// NewServer returns the server of a listener with the settings both listeners share: the
// body limit and timeouts, errors in the API's error body (API.md §3), no Server header, no
// default Content-Type, connections closed on shutdown, and logs that never carry what a
// client sent (SecureErrorLogMessage and ServerLogger).
func NewServer(o ServerOptions) *fasthttp.Server {
	if o.ErrorHandler == nil {
		o.ErrorHandler = ErrorHandler
	}
	o.MaxBodyBytes = config.Or(o.MaxBodyBytes, config.DefaultMaxBodyBytes)
	o.ReadTimeout = config.Or(o.ReadTimeout, 30*time.Second)
	o.WriteTimeout = config.Or(o.WriteTimeout, 30*time.Second)
	o.IdleTimeout = config.Or(o.IdleTimeout, 120*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &fasthttp.Server{
		Handler:               o.Handler,
		ErrorHandler:          o.ErrorHandler,
		Name:                  o.Name,
		MaxRequestBodySize:    o.MaxBodyBytes,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		IdleTimeout:           o.IdleTimeout,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		SecureErrorLogMessage: true,
		Logger:                ServerLogger{L: o.Logger},
	}
}

// Answers to requests fasthttp could not read.
var (
	errHeaderTooLarge = &wire.APIError{Status: http.StatusRequestHeaderFieldsTooLarge, Code: wire.InvalidRequest.Code, Message: "request header too large"}
	errReadTimeout    = &wire.APIError{Status: http.StatusRequestTimeout, Code: wire.InvalidRequest.Code, Message: "request not received in time"}
	errMalformed      = wire.InvalidRequest.Answer(nil)
)

// serverErrorFor is the answer to an error fasthttp met reading a request: 413
// PAYLOAD_TOO_LARGE for a body over the limit, 431 for a header over the read buffer, 408
// for a request not received within the read timeout, 400 INVALID_REQUEST otherwise.
func serverErrorFor(err error) *wire.APIError {
	var small *fasthttp.ErrSmallBuffer
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return errTooLarge
	case errors.As(err, &small):
		return errHeaderTooLarge
	case errors.As(err, &te) && te.Timeout():
		return errReadTimeout
	}
	return errMalformed
}

// ErrorHandler answers a request fasthttp could not read (see serverErrorFor) with the
// API's error body and X-Request-ID (wire.PickRequestID: the client's when sane, else a
// new one). It is NewServer's default; the public listener uses the gateway's own, which
// gives the same answers and counts them in the metrics.
func ErrorHandler(rc *fasthttp.RequestCtx, err error) {
	rid, _ := wire.PickRequestID(make([]byte, 0, 32), &rc.Request.Header)
	e := serverErrorFor(err)
	rc.Response.Header.SetBytesV(hRequestID, rid)
	wire.WriteError(rc, e, rid, wire.BasicChallenge, nil)
}
