package gateway

import (
	"bytes"
	"math/bits"

	"github.com/valyala/fasthttp"
)

// Header stripping. A request or an answer carries a handful of headers and almost never one
// that must go, while the lists below are long: deleting each name costs a normalisation and
// a scan of every header. So the headers are looked at once, and the deletes run only when
// one of the names is there, and only for the names that are.

// requestStrip are removed from the request before it is forwarded: credentials,
// hop-by-hop headers (RFC 9110 §7.6.1), the client's Forwarded, X-Real-IP and
// X-Forwarded-For (the gateway sets the latter, see appendForwardedFor; the others would name
// a client address nobody vouches for) and the trusted headers a client may not set.
var requestStrip = []string{hAuthToken, hAuthz, hAuthID,
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"TE", "Trailer", "Transfer-Encoding", "Upgrade",
	hAccountID, hCallerID, hBillingID, hCharge, hRequestID, hForwarded, hForwardedFor, "X-Real-IP",
	hCallHoldID, hCallMaxDur}

// responseStrip are removed from the upstream's answer.
var responseStrip = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection",
	"Trailer", "Transfer-Encoding", "Upgrade", hRLPolicy, hRL, hCharge, hRequestID, hUsageCost,
	hCallHoldID, hCallMaxDur}

var requestStripSet, responseStripSet = lowerSet(requestStrip), lowerSet(responseStrip)

// The bits of Connection and Trailer in the masks of present.
var (
	requestConnection  = uint32(1) << requestStripSet["connection"]
	responseConnection = uint32(1) << responseStripSet["connection"]
	responseTrailer    = uint32(1) << responseStripSet["trailer"]
)

// lowerSet maps each name's lower case to its index in names (at most 32 names).
func lowerSet(names []string) map[string]int {
	if len(names) > 32 {
		panic("strip list longer than a uint32 mask")
	}
	m := make(map[string]int, len(names))
	for i, n := range names {
		b := []byte(n)
		m[string(lower(b, b))] = i
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

// present returns a mask of the names of set that the headers seen by all carry (bit i =
// names[i]), ignoring case.
func present(set map[string]int, all func(yield func(k, v []byte) bool)) uint32 {
	var mask uint32
	var buf [32]byte // longer than every name in the sets
	for k := range all {
		if len(k) > len(buf) {
			continue
		}
		if i, ok := set[string(lower(buf[:], k))]; ok {
			mask |= 1 << i
		}
	}
	return mask
}

// stripRequest deletes the headers of requestStrip that the request carries (usually only
// the credentials) and those its Connection header names.
func stripRequest(h *fasthttp.RequestHeader) {
	mask := present(requestStripSet, h.All())
	if mask&requestConnection != 0 {
		delConnectionOptions(h, h.PeekAll("Connection"))
	}
	for ; mask != 0; mask &= mask - 1 {
		h.Del(requestStrip[bits.TrailingZeros32(mask)])
	}
}

// stripResponse deletes the headers of responseStrip that the answer carries and those its
// Connection header names, and makes sure the answer does not close the client's connection
// because the upstream's did. The answer's trailer fields (a chunked answer's) go to the
// client in its header section, so the same deletes apply to them.
func stripResponse(h *fasthttp.ResponseHeader) {
	mask := present(responseStripSet, h.All())
	if mask&responseTrailer != 0 {
		h.Del("Trailer") // fasthttp moves the trailer fields into the header section
		mask = present(responseStripSet, h.All())
	}
	if mask&responseConnection != 0 {
		delConnectionOptions(h, h.PeekAll("Connection"))
	}
	for ; mask != 0; mask &= mask - 1 {
		h.Del(responseStrip[bits.TrailingZeros32(mask)])
	}
	h.ResetConnectionClose()
}

// delConnectionOptions deletes from h every header named in the Connection values: those
// are hop-by-hop (RFC 9110 §7.6.1). close and keep-alive name no header; Trailer is left to
// the strip lists, which hold it, because deleting it re-adds fields to h, which could
// overwrite the bytes of the values. Other deletes move entries, never the bytes they hold,
// so the values may alias h.
func delConnectionOptions(h interface{ DelBytes(key []byte) }, values [][]byte) {
	for _, c := range values {
		for len(c) > 0 {
			var tok []byte
			if i := bytes.IndexByte(c, ','); i >= 0 {
				tok, c = c[:i], c[i+1:]
			} else {
				tok, c = c, nil
			}
			tok = bytes.TrimSpace(tok)
			if len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) &&
				!bytes.EqualFold(tok, []byte("trailer")) {
				h.DelBytes(tok)
			}
		}
	}
}
