// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-aiops/otelcol-aiops/internal/graph"

import (
	"math"
	"math/bits"
)

// The latency sketch is a log-linear histogram of durations in nanoseconds: each power of two
// between 2^skMinExp and 2^skMaxExp is split into skSub equal buckets. A bucket's midpoint is
// within 1/(2*skSub) = 6.25% of every value in it. Memory is fixed: ~1 KiB per sketch.
const (
	skSubBits = 3
	skSub     = 1 << skSubBits
	skMinExp  = 10 // durations below 2^10 ns (~1 µs) share bucket 0
	skMaxExp  = 42 // durations at or above 2^42 ns (~73 min) share the last bucket
	skBuckets = 1 + (skMaxExp-skMinExp)*skSub
)

type sketch struct {
	counts   [skBuckets]uint32
	n        uint64 // sum of counts
	min, max int64
}

func skIndex(v int64) int {
	if v < 1<<skMinExp {
		return 0
	}
	if v >= 1<<skMaxExp {
		return skBuckets - 1
	}
	e := bits.Len64(uint64(v)) - 1
	sub := int(uint64(v)>>(uint(e)-skSubBits)) & (skSub - 1)
	return 1 + (e-skMinExp)*skSub + sub
}

// skValue is the representative (midpoint) of bucket i, in nanoseconds.
func skValue(i int) float64 {
	if i <= 0 {
		return float64(1<<skMinExp) / 2
	}
	j := i - 1
	e := skMinExp + j/skSub
	sub := j % skSub
	width := float64(uint64(1) << uint(e-skSubBits))
	lower := float64(skSub+sub) * width
	return lower + width/2
}

func (s *sketch) add(v int64) {
	if v < 0 {
		v = 0
	}
	i := skIndex(v)
	if s.counts[i] == math.MaxUint32 {
		s.halve()
	}
	s.counts[i]++
	if s.n == 0 || v < s.min {
		s.min = v
	}
	if v > s.max {
		s.max = v
	}
	s.n++
}

// merge adds the values of o to s. A bucket that would overflow saturates.
func (s *sketch) merge(o *sketch) {
	if o.n == 0 {
		return
	}
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.n == 0 || o.max > s.max {
		s.max = o.max
	}
	s.n = 0
	for i, c := range o.counts {
		s.counts[i] = uint32(min(uint64(s.counts[i])+uint64(c), math.MaxUint32))
		s.n += uint64(s.counts[i])
	}
}

// halve keeps the shape of the distribution when a bucket would overflow.
func (s *sketch) halve() {
	s.n = 0
	for i, c := range s.counts {
		c = c/2 + c&1 // rounded up, so non-empty buckets stay non-empty
		s.counts[i] = c
		s.n += uint64(c)
	}
}

// quantile returns the q-quantile in nanoseconds (0 when empty).
func (s *sketch) quantile(q float64) float64 {
	if s.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.n)))
	rank = max(rank, 1)
	rank = min(rank, s.n)
	// The extreme ranks are known exactly.
	if rank == 1 {
		return float64(s.min)
	}
	if rank == s.n {
		return float64(s.max)
	}
	var c uint64
	for i, k := range s.counts {
		c += uint64(k)
		if c >= rank {
			v := skValue(i)
			return math.Min(math.Max(v, float64(s.min)), float64(s.max))
		}
	}
	return float64(s.max)
}

func (s *sketch) latency() Latency {
	if s == nil || s.n == 0 {
		return Latency{}
	}
	return Latency{
		P50: s.quantile(0.50) / 1e6,
		P95: s.quantile(0.95) / 1e6,
		P99: s.quantile(0.99) / 1e6,
	}
}

// hist is an explicit-bucket histogram; counts is allocated on first use.
type hist struct {
	counts []uint64
	sum    float64 // seconds
	n      uint64
}

func (h *hist) add(boundsNs []int64, v int64) {
	if v < 0 {
		v = 0
	}
	if h.counts == nil {
		h.counts = make([]uint64, len(boundsNs)+1)
	}
	i := 0
	for i < len(boundsNs) && v > boundsNs[i] {
		i++
	}
	h.counts[i]++
	h.sum += float64(v) / 1e9
	h.n++
}

func (h *hist) export(bounds []float64) Histogram {
	out := Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1), Sum: h.sum, Count: h.n}
	copy(out.Counts, h.counts)
	return out
}
