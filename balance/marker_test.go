package balance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/balance/redistest"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// TestMarkerHashesStayCompact: the refund markers of many admits with the gateway's kind of
// ids (a hex counter) go into small hashes that Redis keeps in its compact encoding, at well
// under 80 bytes a marker; every marker is found where MarkerKey says.
func TestMarkerHashesStayCompact(t *testing.T) {
	ctx := context.Background()
	s, err := balance.Open(ctx, balance.Options{Redis: "redis://" + redistest.Start(t) + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := testkit.NewAccount(t, s, nil, "100.00", testkit.Rate(0))
	k := testkit.NewAccount(t, s, m, "", testkit.Rate(0))
	const n = 1000 // more than a compact hash may hold (hash-max-listpack-entries, 128 or 512)
	base := admReq(k, k, model.PermCalls, false, "0.01")
	reqs := make([]*balance.AdmitRequest, 50)
	decs := make([]balance.Decision, len(reqs))
	for done := 0; done < n; done += len(reqs) {
		for j := range reqs {
			r := *base
			r.RequestID = fmt.Appendf(nil, "0a1b2c3d-%016x", done+j)
			reqs[j] = &r
		}
		for i, err := range balance.AdmitBatch(s, reqs, decs) {
			if err != nil || !decs[i].Admitted {
				t.Fatalf("admit: %v %+v", err, decs[i])
			}
		}
	}
	keys := map[string]bool{}
	var bytes int64
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("0a1b2c3d-%016x", i)
		key, field := s.MarkerKey(m.Root, id)
		if v := s.Client().HGet(ctx, key, field).Val(); v == "" || v[0] != 'a' {
			t.Fatalf("marker of %s at %s %s: %q", id, key, field, v)
		}
		if !keys[key] {
			keys[key] = true
			if enc := s.Client().ObjectEncoding(ctx, key).Val(); enc != "listpack" {
				t.Errorf("%s is a %s, not a listpack", key, enc)
			}
			bytes += s.Client().MemoryUsage(ctx, key).Val()
		}
	}
	if per := bytes / n; per > 80 {
		t.Errorf("%d bytes a marker (%d hashes for %d markers)", per, len(keys), n)
	}
}

// TestMarkersOfManyTreesShareHashes: the markers of a batch of admits from many trees, with
// consecutive ids, go into the few hashes their ids name on one server (one write and one
// expiry per hash, not per tree), and into each tree's own hash on a Redis Cluster (its
// slot); refund finds every one of them, once.
func TestMarkersOfManyTreesShareHashes(t *testing.T) {
	runOnStores(t, true, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		const trees = 32
		reqs := make([]*balance.AdmitRequest, trees)
		decs := make([]balance.Decision, trees)
		roots := make([]string, trees)
		for i := range reqs {
			m := testkit.NewAccount(t, s, nil, "1.00")
			k := testkit.NewAccount(t, s, m, "")
			reqs[i] = admReq(k, k, model.PermCalls, false, "0.01")
			reqs[i].RequestID = fmt.Appendf(nil, "5e9f-%016x", 0x100+i) // two runs of 16
			roots[i] = m.Root
		}
		for i, err := range balance.AdmitBatch(s, reqs, decs) {
			if err != nil || !decs[i].Admitted {
				t.Fatalf("admit %d: %v %+v", i, err, decs[i])
			}
		}
		_, cluster := s.Client().(*redis.ClusterClient)
		hashes := map[string]bool{}
		for i, r := range reqs {
			key, field := s.MarkerKey(roots[i], string(r.RequestID))
			if v := s.Client().HGet(ctx, key, field).Val(); v == "" || v[0] != 'a' {
				t.Fatalf("marker %d at %s %s: %q", i, key, field, v)
			}
			if cluster != strings.Contains(key, "{"+roots[i]+"}") {
				t.Errorf("marker %d in %s (cluster %v)", i, key, cluster)
			}
			hashes[key] = true
		}
		if want := 2; !cluster && len(hashes) != want {
			t.Errorf("%d marker hashes for %d trees on one server, want %d", len(hashes), trees, want)
		}
		for i, r := range reqs {
			if amt, ok, err := s.Refund(ctx, r); err != nil || !ok || amt != testkit.Amt("0.01") {
				t.Errorf("refund %d: %v %v %v", i, amt, ok, err)
			}
			if _, ok, err := s.Refund(ctx, r); err != nil || ok {
				t.Errorf("second refund %d: %v %v", i, ok, err)
			}
		}
	})
}
