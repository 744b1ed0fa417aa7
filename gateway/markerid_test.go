package gateway

import (
	"context"
	"testing"
)

// TestMarkersShareHashes: the refund markers of consecutive proxied requests land 16 to a
// hash (the marker id ends in a counter; see balance.AppendMarkerID), whether the client
// sent an X-Request-ID or not, while the X-Request-IDs the gateway makes stay random.
func TestMarkersShareHashes(t *testing.T) {
	f := newFixture(t, nil)
	m := f.mk(nil, "10.00")
	k := f.mk(m, "")
	const n = 64
	rids := map[string]bool{}
	for i := 0; i < n; i++ {
		hdr := map[string]string{}
		if i%2 == 0 {
			hdr["X-Request-ID"] = "client-chosen"
		}
		a := f.do(call{path: callPath(k), as: k, header: hdr})
		if a.Status != 200 {
			t.Fatalf("request %d: %d %s", i, a.Status, a.Body)
		}
		rids[a.Header["X-Request-Id"]] = true
	}
	if len(rids) != n/2+1 {
		t.Errorf("%d distinct X-Request-IDs, want %d (the client's and %d made)", len(rids), n/2+1, n/2)
	}
	keys, err := f.store.Client().Keys(context.Background(), "rf:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	fields := 0
	for _, key := range keys {
		fields += int(f.store.Client().HLen(context.Background(), key).Val())
	}
	if fields != n || len(keys) > n/16+1 {
		t.Errorf("%d markers in %d hashes; want %d markers in at most %d", fields, len(keys), n, n/16+1)
	}
}
