package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values are microseconds. Values below 2·histSub are counted exactly, one
// bucket per microsecond. Above that, every power-of-two range is split into histSub equal
// buckets, so a bucket is never wider than 1/histSub (0.78%) of its lower bound, and the
// midpoint the percentiles report is within 0.4% of any value in it. Values at or above
// 2^histMaxBits µs (about 12.7 days) are clamped into the last bucket; Max stays exact.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two above the linear range
	histMaxBits = 40
	histBuckets = 2*histSub + (histMaxBits-histSubBits-1)*histSub
)

// Histogram records latencies with microsecond resolution and about 1% precision, in fixed
// log-linear buckets (HDR-style), so recording never allocates and percentiles cost one pass.
// The zero value is empty and ready to use. A Histogram is not safe for concurrent use: give
// each goroutine its own and Merge them afterwards.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64 // µs
	min    uint64 // µs, valid when n > 0
	max    uint64 // µs
}

// bucketOf maps a value in µs to its bucket index.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	if v >= 1<<histMaxBits {
		return histBuckets - 1
	}
	shift := bits.Len64(v) - histSubBits - 1 // ≥ 1; v>>shift is in [histSub, 2·histSub)
	return 2*histSub + (shift-1)*histSub + int(v>>shift) - histSub
}

// bucketRange returns the lowest value of bucket i and its width, in µs.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	shift := (i-2*histSub)/histSub + 1
	top := uint64((i-2*histSub)%histSub + histSub)
	return top << shift, 1 << shift
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	var v uint64
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	h.RecordMicros(v)
}

// RecordMicros adds one value given in microseconds.
func (h *Histogram) RecordMicros(v uint64) {
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded (exact), 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest value recorded (exact), 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.min) * time.Microsecond
}

// Mean is the exact arithmetic mean, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(float64(h.sum) / float64(h.n) * float64(time.Microsecond))
}

// Percentile returns the value at or below which q (0..100) percent of the recorded values
// fall, within the bucket precision (the bucket's midpoint, kept within [Min, Max]). It is 0
// when empty; q ≤ 0 gives Min and q ≥ 100 gives Max.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	if q >= 100 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q / 100 * float64(h.n))) // 1-based rank of the wanted value
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bucketRange(i)
			v := lo + (w-1)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}
