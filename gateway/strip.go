package gateway

import "github.com/valyala/fasthttp"

// Header stripping. A request or an answer carries a handful of headers and almost never one
// that must go, while the lists below are long: deleting each name costs a normalisation and
// a scan of every header. So the headers are looked at once, and the deletes run only when
// one of the names is there.

// requestStrip are removed from the request before it is forwarded: credentials,
// hop-by-hop headers (RFC 9110 §7.6.1) and the trusted headers a client may not set.
var requestStrip = []string{hAuthToken, hAuthz, hAuthID,
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"TE", "Trailer", "Transfer-Encoding", "Upgrade",
	hAccountID, hCallerID, hBillingID, hCharge, hRequestID}

// responseStrip are removed from the upstream's answer.
var responseStrip = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection",
	"Trailer", "Transfer-Encoding", "Upgrade", hRLPolicy, hRL, hCharge, hRequestID, hUsageCost}

var requestStripSet, responseStripSet = lowerSet(requestStrip), lowerSet(responseStrip)

func lowerSet(names []string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		b := []byte(n)
		m[string(lower(b, b))] = struct{}{}
	}
	return m
}

// lower writes the ASCII lower case of src into dst (len(dst) >= len(src)) and returns it.
func lower(dst, src []byte) []byte {
	for i, c := range src {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return dst[:len(src)]
}

// inSet reports whether header name k is in set, ignoring case.
func inSet(set map[string]struct{}, k []byte) bool {
	var buf [32]byte // longer than every name in the sets
	if len(k) > len(buf) {
		return false
	}
	_, ok := set[string(lower(buf[:], k))]
	return ok
}

func stripRequest(h *fasthttp.RequestHeader) {
	found := false
	for k := range h.All() {
		if inSet(requestStripSet, k) {
			found = true
			break
		}
	}
	if found {
		for _, k := range requestStrip {
			h.Del(k)
		}
	}
}

func stripResponse(h *fasthttp.ResponseHeader) {
	found := false
	for k := range h.All() {
		if inSet(responseStripSet, k) {
			found = true
			break
		}
	}
	if found {
		for _, k := range responseStrip {
			h.Del(k)
		}
	}
	h.ResetConnectionClose()
}
