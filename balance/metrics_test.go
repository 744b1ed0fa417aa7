package balance_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tenantgw/gateway/balance"
	"github.com/tenantgw/gateway/bench/testkit"
	"github.com/tenantgw/gateway/policy/model"
)

// storeSeries reads the store's metrics from reg: round-trip counts and errors by
// operation, and the pipeline histogram's count and sum.
func storeSeries(t *testing.T, reg *prometheus.Registry) (trips, errs map[string]float64, pipes, pipeCmds float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	trips, errs = map[string]float64{}, map[string]float64{}
	op := func(m *dto.Metric) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == "operation" {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "gateway_store_round_trip_seconds":
				trips[op(m)] = float64(m.GetHistogram().GetSampleCount())
			case "gateway_store_errors_total":
				errs[op(m)] = m.GetCounter().GetValue()
			case "gateway_store_pipeline_commands":
				pipes, pipeCmds = float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return trips, errs, pipes, pipeCmds
}

func TestStoreInstrument(t *testing.T) {
	admStores(t, func(t *testing.T, s *balance.Store) {
		ctx := context.Background()
		m := testkit.NewAccount(t, s, nil, "1.00")
		k := testkit.NewAccount(t, s, m, "")
		reg := prometheus.NewRegistry()
		if err := s.Instrument(reg); err != nil {
			t.Fatal(err)
		}
		if err := s.Instrument(reg); err == nil {
			t.Error("instrumenting twice on one registry: no error")
		}
		trips0, _, _, _ := storeSeries(t, reg)

		r1 := admReq(k, k, model.PermCalls, false, "0.01")
		r2 := admReq(k, k, model.PermCalls, false, "0.01")
		if !admDo(t, s, r1).Admitted || !admDo(t, s, r2).Admitted {
			t.Fatal("not admitted")
		}
		if _, ok, err := s.Refund(ctx, r1); err != nil || !ok {
			t.Fatalf("refund %v %v", ok, err)
		}
		if _, ok, err := s.Settle(ctx, r2, 5000); err != nil || !ok {
			t.Fatalf("settle %v %v", ok, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		pipe := s.Client().Pipeline()
		pipe.Ping(ctx)
		pipe.Ping(ctx)
		pipe.Ping(ctx)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}

		trips, errs, pipes, pipeCmds := storeSeries(t, reg)
		// Each script's first call may be EVALSHA (NOSCRIPT) and then EVAL: two round trips.
		for op, want := range map[string][2]float64{"admit": {2, 3}, "refund": {1, 2}, "settle": {1, 2}} {
			if n := trips[op] - trips0[op]; n < want[0] || n > want[1] {
				t.Errorf("%s round trips %v, want %v..%v", op, n, want[0], want[1])
			}
		}
		if n := trips["other"] - trips0["other"]; n < 2 { // the ping, the pipeline
			t.Errorf("other round trips %v", n)
		}
		if pipes != 1 || pipeCmds != 3 {
			t.Errorf("pipelines %v with %v commands, want 1 with 3", pipes, pipeCmds)
		}
		for op, n := range errs {
			if n != 0 {
				t.Errorf("store errors %s = %v (NOSCRIPT and redis.Nil are not errors)", op, n)
			}
		}
		// The two admits went through the batcher one at a time: two script calls of one admit.
		calls, admits := histogram(t, reg, "gateway_store_admit_batch_size")
		if calls != 2 || admits != 2 {
			t.Errorf("admit batches %v with %v admits, want 2 with 2", calls, admits)
		}
	})
}

// histogram returns the sample count and sum of the histogram called name in reg.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (count, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				count += float64(m.GetHistogram().GetSampleCount())
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}

func TestStoreInstrumentCountsErrors(t *testing.T) {
	s, err := balance.Open(context.Background(), balance.Options{Redis: "redis://127.0.0.1:1/0",
		DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewRegistry()
	if err := s.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	trips, errs, _, _ := storeSeries(t, reg)
	if trips["other"] != 1 || errs["other"] != 1 {
		t.Errorf("round trips %v, errors %v; want one failed 'other'", trips, errs)
	}
}
