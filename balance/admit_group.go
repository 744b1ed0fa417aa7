package balance

import (
	"fmt"
	"time"

	"github.com/tenantgw/gateway/policy/model"
)

// admitGroup is the admits of one script call (see lua/admit.lua): requests of trees that
// may share a call (one tree in a Redis Cluster, any on one server), their keys deduplicated.
// A batch worker keeps its groups and reuses them; reset keeps the memory.
type admitGroup struct {
	calls   []*admitCall
	keys    []string       // account keys first, then usage keys
	nacct   int            // len of the account part of keys
	index   map[string]int // key -> 1-based index in keys
	usage   []string       // usage keys in order of first use, before they join keys
	argv    []interface{}
	spec    []byte
	ttl     time.Duration // lifetime of the refund markers
	markers string        // where they go: markerHashPrefix of the group's tree(s)
	tombs   string        // their tombstone flag: tombsKey of the group's tree(s)
}

func (g *admitGroup) reset() {
	for i := range g.calls {
		g.calls[i] = nil
	}
	g.calls = g.calls[:0]
	clear(g.keys)
	g.keys = g.keys[:0]
	clear(g.usage)
	g.usage = g.usage[:0]
	clear(g.index)
	g.nacct = 0
}

// add puts one call into the group; args builds the script's ARGV once all are in.
func (g *admitGroup) add(c *admitCall) {
	if g.index == nil {
		g.index = make(map[string]int, 16)
	}
	g.calls = append(g.calls, c)
	keys := c.req.Keys
	for _, k := range keys[:len(keys)-1] {
		if _, ok := g.index[k]; !ok {
			g.keys = append(g.keys, k)
			g.index[k] = len(g.keys)
		}
	}
	if u := keys[len(keys)-1]; g.index[u] == 0 {
		g.usage = append(g.usage, u)
		g.index[u] = -len(g.usage) // placed after the accounts by args
	}
}

// args completes keys and returns the ARGV of the group's script call.
func (g *admitGroup) args() []interface{} {
	g.nacct = len(g.keys)
	g.keys = append(g.keys, g.usage...)
	a := g.argv[:0]
	a = append(a, g.ttl.Milliseconds(), g.nacct, len(g.calls), g.markers, g.tombs)
	var prev *AdmitRequest
	for _, c := range g.calls {
		r := c.req
		if prev != nil && r.Call == nil && prev.Call == nil && sameButID(prev, r) {
			a = append(a, "=", r.RequestID)
			continue
		}
		prev = r
		n := len(r.Keys) - 1
		s := appendKeyIndex(g.spec[:0], g.nacct-g.index[r.Keys[n]])
		for i, k := range r.Keys[:n] {
			x := g.index[k]
			if i == 0 && r.PathPays {
				x |= paysBit
			}
			s = appendKeyIndex(s, x)
		}
		g.spec = s
		kyc := "0"
		if r.KYC {
			kyc = "1"
		}
		var call interface{} = ""
		if r.Call != nil {
			call = r.Call.callArg()
		}
		a = append(a, string(s), r.CallerPos+1, r.TokenHash, permArgs[r.Permission], kyc, int64(r.Price), r.Route, r.RequestID, r.CallerID, call)
	}
	g.argv = a
	return a
}

// appendKeyIndex appends a KEYS index to a spec as the admit script reads it: two bytes, big
// endian (the script turns a spec into numbers with one string.byte; decimal text took a
// pattern match and a tonumber per index). A script call has far fewer than 32,768 keys: the
// top bit is paysBit, set on the path account's index when AdmitRequest.PathPays.
func appendKeyIndex(s []byte, i int) []byte { return append(s, byte(i>>8), byte(i)) }

const paysBit = 1 << 15

// answer gives every call of the group its decision from the script's answer v (or err):
// 8 integers per call, in order.
func (g *admitGroup) answer(v interface{}, err error) {
	if err != nil {
		err = admitErr(err)
		for _, c := range g.calls {
			c.err = err
		}
		return
	}
	raw, ok := v.([]interface{})
	if !ok || len(raw) != answerInts*len(g.calls) {
		err = fmt.Errorf("admit: unexpected answer %.200v for %d admits", v, len(g.calls))
		for _, c := range g.calls {
			c.err = err
		}
		return
	}
	for i, c := range g.calls {
		c.err = decodeAnswer(raw[i*answerInts:(i+1)*answerInts], c.req, c.dec)
	}
}

// answerInts is how many integers the admit script answers per admit.
const answerInts = 8

// decodeAnswer fills dec from one admit's 8 integers: code, who, charge, payer, limit,
// remaining, reset (ms), available.
func decodeAnswer(raw []interface{}, req *AdmitRequest, dec *Decision) error {
	var f [answerInts]int64
	for i := range f {
		n, ok := raw[i].(int64)
		if !ok {
			return fmt.Errorf("admit: unexpected answer %v", raw)
		}
		f[i] = n
	}
	n := int64(len(req.Keys) - 1)
	if f[0] < 0 || f[0] >= int64(reasonCount) || f[1] < 0 || f[1] > n || f[3] < 0 || f[3] > n {
		return fmt.Errorf("admit: unexpected answer %v", raw)
	}
	price := req.Price
	var granted int64
	if req.Call != nil {
		price += req.Call.Spec.Tariff.Cost(req.Call.Spec.Min)
		if f[0] == 0 {
			granted, f[7] = f[7], 0
		}
	}
	*dec = Decision{
		Granted:   granted,
		Admitted:  f[0] == 0,
		Reason:    Reason(f[0]),
		AuthID:    chainID(req, f[1]),
		Charge:    model.Amount(f[2]),
		BillingID: chainID(req, f[3]),
		Limit:     int(f[4]),
		Remaining: int(f[5]),
		Reset:     time.Duration(f[6]) * time.Millisecond,
		Available: model.Amount(f[7]),
		Price:     price,
	}
	return nil
}

// chainID is the account id of position pos (1-based, 0 = none) of req's chain.
func chainID(req *AdmitRequest, pos int64) string {
	if pos == 0 {
		return ""
	}
	return accountIDOfKey(req.Keys[pos-1])
}

// sameButID reports whether a and b differ in their request id only (the script then gets
// b as '=' and its id). Keys are compared by identity: callers cache them per account.
func sameButID(a, b *AdmitRequest) bool {
	return len(a.Keys) == len(b.Keys) && &a.Keys[0] == &b.Keys[0] && a.CallerPos == b.CallerPos && a.PathPays == b.PathPays &&
		a.Permission == b.Permission && a.KYC == b.KYC && a.Price == b.Price && a.Route == b.Route &&
		string(a.TokenHash) == string(b.TokenHash) && string(a.CallerID) == string(b.CallerID)
}
