package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	prevLo := uint64(0)
	for i := 0; i < histBuckets; i++ {
		lo, w := bucketRange(i)
		if i > 0 && lo <= prevLo {
			t.Fatalf("bucket %d starts at %d, not after bucket %d at %d", i, lo, i-1, prevLo)
		}
		prevLo = lo
		for _, v := range []uint64{lo, lo + w/2, lo + w - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d (bucket [%d, %d))", v, got, i, lo, lo+w)
			}
		}
		if lo >= 2*histSub && float64(w)/float64(lo) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d [%d,+%d) is wider than 1/%d of its start", i, lo, w, histSub)
		}
		if i+1 < histBuckets {
			if nlo, _ := bucketRange(i + 1); nlo != lo+w {
				t.Fatalf("gap between bucket %d (ends %d) and %d (starts %d)", i, lo+w, i+1, nlo)
			}
		}
	}
	if got := bucketOf(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("huge value goes to bucket %d, want the last", got)
	}
}

func TestPercentilesOfKnownDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() uint64{
		"uniform 1..100000µs":   func() uint64 { return 1 + rng.Uint64N(100000) },
		"exponential mean 2ms":  func() uint64 { return uint64(rng.ExpFloat64() * 2000) },
		"lognormal around 1ms":  func() uint64 { return uint64(math.Exp(rng.NormFloat64()*0.8) * 1000) },
		"small integers 0..300": func() uint64 { return rng.Uint64N(301) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]uint64, 200000)
			var sum uint64
			for i := range vals {
				vals[i] = gen()
				sum += vals[i]
				h.RecordMicros(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != uint64(len(vals)) {
				t.Fatalf("count %d, want %d", h.Count(), len(vals))
			}
			if h.Min() != time.Duration(vals[0])*time.Microsecond || h.Max() != time.Duration(vals[len(vals)-1])*time.Microsecond {
				t.Fatalf("min/max %v/%v, want %dµs/%dµs", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			wantMean := float64(sum) / float64(len(vals))
			if got := float64(h.Mean()) / 1e3; math.Abs(got-wantMean) > 1e-3*wantMean+1 {
				t.Fatalf("mean %.3fµs, want %.3fµs", got, wantMean)
			}
			prev := time.Duration(-1)
			for _, q := range []float64{1, 10, 25, 50, 75, 90, 99, 99.9, 99.99} {
				rank := int(math.Ceil(q/100*float64(len(vals)))) - 1
				want := float64(vals[rank])
				got := float64(h.Percentile(q) / time.Microsecond)
				if math.Abs(got-want) > 0.01*want+1 { // 1% (plus the 1µs resolution)
					t.Errorf("p%v = %.0fµs, want %.0fµs ±1%%", q, got, want)
				}
				if h.Percentile(q) < prev {
					t.Errorf("p%v = %v is below the previous percentile %v", q, h.Percentile(q), prev)
				}
				prev = h.Percentile(q)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Min() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	h.Record(1234567 * time.Nanosecond) // 1234µs
	for _, q := range []float64{0, 50, 99.9, 100} {
		if got := h.Percentile(q); got != 1234*time.Microsecond {
			t.Fatalf("single value: p%v = %v, want 1.234ms", q, got)
		}
	}
	h.Record(-time.Second)
	if h.Min() != 0 || h.Count() != 2 {
		t.Fatalf("negative duration: min %v count %d", h.Min(), h.Count())
	}
	h.Record(1000 * time.Hour) // beyond the tracked range: clamped bucket, exact max
	if h.Max() != 1000*time.Hour || h.Percentile(100) != 1000*time.Hour {
		t.Fatalf("max %v", h.Max())
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for v := uint64(0); v < 50000; v += 7 {
		if v%2 == 0 {
			a.RecordMicros(v)
		} else {
			b.RecordMicros(v)
		}
		all.RecordMicros(v)
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&Histogram{})
	m.Merge(&b)
	if m != all {
		t.Fatal("merging the halves differs from recording everything in one")
	}
}
