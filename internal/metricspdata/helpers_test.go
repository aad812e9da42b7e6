// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricspdata

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
)

// t0 is a minute-aligned event time.
const t0 = int64(1_699_999_980) * int64(time.Second)

func at(sec int) int64 { return t0 + int64(sec)*int64(time.Second) }

func ts(t int64) pcommon.Timestamp { return pcommon.Timestamp(uint64(t)) }

func newConv(t testing.TB, cfg Config) *Converter {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

// kv is an attribute for the builders below.
type kv struct {
	k string
	v any
}

func putAttrs(m pcommon.Map, attrs []kv) {
	for _, a := range attrs {
		switch v := a.v.(type) {
		case string:
			m.PutStr(a.k, v)
		case int:
			m.PutInt(a.k, int64(v))
		case float64:
			m.PutDouble(a.k, v)
		case bool:
			m.PutBool(a.k, v)
		default:
			panic("unsupported attribute type")
		}
	}
}

// resourceMetrics appends a ResourceMetrics with the attributes and returns its metric slice.
func resourceMetrics(md pmetric.Metrics, attrs ...kv) pmetric.MetricSlice {
	rm := md.ResourceMetrics().AppendEmpty()
	putAttrs(rm.Resource().Attributes(), attrs)
	return rm.ScopeMetrics().AppendEmpty().Metrics()
}

func gauge(ms pmetric.MetricSlice, name, unit string, t int64, v float64, attrs ...kv) pmetric.NumberDataPoint {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(t))
	dp.SetDoubleValue(v)
	putAttrs(dp.Attributes(), attrs)
	return dp
}

// sum appends a Sum metric with one point per value set (all at time t).
func sum(ms pmetric.MetricSlice, name, unit string, temp pmetric.AggregationTemporality, start, t int64, pts ...sumPoint) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	s := m.SetEmptySum()
	s.SetAggregationTemporality(temp)
	s.SetIsMonotonic(true)
	for _, p := range pts {
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts(start))
		dp.SetTimestamp(ts(t))
		dp.SetDoubleValue(p.v)
		putAttrs(dp.Attributes(), p.attrs)
	}
}

type sumPoint struct {
	v     float64
	attrs []kv
}

type histPoint struct {
	counts []uint64
	sum    float64
	attrs  []kv
}

func histogram(ms pmetric.MetricSlice, name, unit string, temp pmetric.AggregationTemporality, start, t int64,
	bounds []float64, pts ...histPoint,
) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(temp)
	for _, p := range pts {
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts(start))
		dp.SetTimestamp(ts(t))
		dp.ExplicitBounds().FromRaw(bounds)
		dp.BucketCounts().FromRaw(p.counts)
		var n uint64
		for _, c := range p.counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.sum)
		putAttrs(dp.Attributes(), p.attrs)
	}
}

// only returns the samples of one signal.
func only(ss []metricsig.Sample, sig metricsig.Signal) []metricsig.Sample {
	var out []metricsig.Sample
	for _, s := range ss {
		if s.Signal == sig {
			out = append(out, s)
		}
	}
	return out
}
