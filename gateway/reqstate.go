package gateway

import (
	"net/netip"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/policy"
)

// reqState is the per-request scratch space, pooled; nothing in it outlives the handler.
type reqState struct {
	req   balance.AdmitRequest
	dec   balance.Decision
	call  balance.CallRequest // a call route's: req.Call points here
	basic []byte              // Basic credentials, decoded
	hash  policy.TokenHash
	hex   []byte // the token hash in hex, for the admit script
	rid   []byte // X-Request-ID answered and forwarded
	mid   []byte // internal request id: the refund marker's key
	num   []byte // formatting scratch
	body  []byte // error body scratch
	cid   []byte // the caller-ID number of the request, for a route that has one

	peer netip.Addr // the connection's other end
	xff  []byte     // X-Forwarded-For forwarded
}

func newReqState() *reqState {
	return &reqState{basic: make([]byte, 0, 128), hex: make([]byte, 0, 64), rid: make([]byte, 0, 64),
		mid: make([]byte, 0, 48), num: make([]byte, 0, 64), cid: make([]byte, 0, 32), body: make([]byte, 0, 512), xff: make([]byte, 0, 64)}
}

func (g *Gateway) acquire() *reqState { return g.pool.Get().(*reqState) }

func (g *Gateway) release(st *reqState) {
	st.req = balance.AdmitRequest{}
	st.dec = balance.Decision{}
	st.call = balance.CallRequest{}
	st.peer = netip.Addr{}
	g.pool.Put(st)
}
