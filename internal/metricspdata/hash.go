// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricspdata // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricspdata"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Series identities are 64-bit hashes of the resource attributes, the metric name and the point
// attributes. Maps hash independently of their order (a sum of mixed per-entry hashes), so that
// the same attributes in another order are the same series. Nothing here allocates.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashMap(m pcommon.Map) uint64 {
	h := uint64(m.Len())
	for k, v := range m.All() {
		h += mix(hashString(k)*31 ^ hashValue(v))
	}
	return mix(h)
}

func hashValue(v pcommon.Value) uint64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return hashString(v.Str())
	case pcommon.ValueTypeInt:
		return mix(uint64(v.Int()) ^ 0x1)
	case pcommon.ValueTypeDouble:
		return mix(math.Float64bits(v.Double()) ^ 0x2)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return 0x3
		}
		return 0x4
	case pcommon.ValueTypeBytes:
		b := v.Bytes()
		h := uint64(fnvOffset) ^ 0x5
		for i := 0; i < b.Len(); i++ {
			h ^= uint64(b.At(i))
			h *= fnvPrime
		}
		return h
	case pcommon.ValueTypeMap:
		return hashMap(v.Map()) ^ 0x6
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		h := uint64(0x7)
		for i := 0; i < s.Len(); i++ {
			h = mix(h*31 + hashValue(s.At(i)))
		}
		return h
	}
	return 0
}
