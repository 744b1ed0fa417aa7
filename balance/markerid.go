package balance

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// Marker ids: the internal id of a proxied request that keys its refund marker
// (AdmitRequest.RequestID, markerKey). They never leave the gateway and the store (the log
// names one as refund_key), so unlike X-Request-ID they may say how many came before: a
// marker id is 16 hex digits chosen at random when the process starts and a 16-hex-digit
// counter. Consecutive ids differ in their last hex digit, so markerKey puts 16 of them in
// one small hash (one write per hash per admit batch, Redis's compact encoding); random ids
// would give every marker a hash of its own. The random part keeps instances (and restarts)
// from ever sharing an id.
var (
	markerPrefix [16]byte
	markerSeq    atomic.Uint64
)

func init() {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("balance: no randomness for marker ids: " + err.Error())
	}
	hex.Encode(markerPrefix[:], b[:])
}

// AppendMarkerID appends a new marker id (33 bytes: prefix '-' counter) to dst. Safe for
// concurrent use; allocates nothing when dst has room.
func AppendMarkerID(dst []byte) []byte {
	n := markerSeq.Add(1)
	dst = append(dst, markerPrefix[:]...)
	dst = append(dst, '-')
	const hexd = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexd[(n>>uint(i))&0xf])
	}
	return dst
}
