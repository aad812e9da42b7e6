// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricspdata

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
)

// benchMetrics builds one collection of a cluster: per service, kubeletstats pod and container
// metrics (gauges and cumulative CPU time), a restart counter, a cumulative HTTP server histogram
// (two status codes) and spanmetrics output (ops operations, ok and error, calls and duration).
func benchMetrics(services, ops int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	spanBounds := []float64{2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000}
	for i := range services {
		svc := fmt.Sprintf("svc-%d", i)
		pod := svc + "-5dc8d4f9fd-llznp"
		ms := resourceMetrics(md, kv{"k8s.pod.name", pod}, kv{"k8s.namespace.name", "shop"}, kv{"k8s.pod.uid", "uid-" + svc})
		gauge(ms, "k8s.pod.cpu.usage", "{cpu}", at(0), 0.2)
		gauge(ms, "k8s.pod.memory.working_set", "By", at(0), 300<<20)
		gauge(ms, "k8s.pod.filesystem.usage", "By", at(0), 1<<30)
		sum(ms, "k8s.pod.cpu.time", "s", cumulative, at(-3600), at(0), sumPoint{v: 1000})
		ms = resourceMetrics(md, kv{"k8s.pod.name", pod}, kv{"k8s.namespace.name", "shop"}, kv{"k8s.container.name", "server"})
		gauge(ms, "container.memory.usage", "By", at(0), 320<<20)
		sum(ms, "container.cpu.time", "s", cumulative, at(-3600), at(0), sumPoint{v: 900})
		gauge(ms, "k8s.container.restarts", "1", at(0), 0).SetIntValue(0)

		ms = resourceMetrics(md, kv{"service.name", svc}, kv{"k8s.pod.name", pod}, kv{"telemetry.sdk.language", "go"})
		histogram(ms, "http.server.request.duration", "s", cumulative, at(-3600), at(0), httpBounds,
			histPoint{counts: []uint64{1, 5, 20, 50, 20, 3, 1, 0, 0}, sum: 4, attrs: []kv{{"http.route", "/api"}, {"http.request.method", "GET"}, {"http.response.status_code", 200}}},
			histPoint{counts: []uint64{0, 0, 0, 1, 1, 0, 0, 0, 0}, sum: 0.1, attrs: []kv{{"http.route", "/api"}, {"http.request.method", "GET"}, {"http.response.status_code", 500}}})
		var calls []sumPoint
		var durs []histPoint
		for o := range ops {
			for _, status := range []string{"STATUS_CODE_UNSET", "STATUS_CODE_ERROR"} {
				attrs := []kv{{"service.name", svc}, {"span.name", fmt.Sprintf("op-%d", o)}, {"span.kind", "SPAN_KIND_SERVER"}, {"status.code", status}}
				calls = append(calls, sumPoint{v: 100, attrs: attrs})
				durs = append(durs, histPoint{counts: []uint64{0, 1, 2, 5, 10, 30, 30, 10, 5, 3, 2, 1, 1, 0, 0, 0, 0}, sum: 9000, attrs: attrs})
			}
		}
		sum(ms, "traces.span.metrics.calls", "{call}", cumulative, at(-3600), at(0), calls...)
		histogram(ms, "traces.span.metrics.duration", "ms", cumulative, at(-3600), at(0), spanBounds, durs...)
	}
	return md
}

// advance moves every point of md by step and grows its cumulative values, without allocating.
func advance(md pmetric.Metrics, step int64) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps := m.Gauge().DataPoints()
					for p := 0; p < dps.Len(); p++ {
						dp := dps.At(p)
						dp.SetTimestamp(dp.Timestamp() + ts(step))
					}
				case pmetric.MetricTypeSum:
					dps := m.Sum().DataPoints()
					for p := 0; p < dps.Len(); p++ {
						dp := dps.At(p)
						dp.SetTimestamp(dp.Timestamp() + ts(step))
						dp.SetDoubleValue(dp.DoubleValue() + 30)
					}
				case pmetric.MetricTypeHistogram:
					dps := m.Histogram().DataPoints()
					for p := 0; p < dps.Len(); p++ {
						dp := dps.At(p)
						dp.SetTimestamp(dp.Timestamp() + ts(step))
						bc := dp.BucketCounts()
						for b := 0; b < bc.Len(); b++ {
							bc.SetAt(b, bc.At(b)+uint64(b%3))
							dp.SetCount(dp.Count() + uint64(b%3))
						}
						dp.SetSum(dp.Sum() * 1.01)
					}
				}
			}
		}
	}
}

func countPoints(md pmetric.Metrics) int {
	n := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				n += pointCount(ms.At(k))
			}
		}
	}
	return n
}

// BenchmarkAppend converts one collection of 100 services (kubeletstats, restarts, HTTP
// histograms, spanmetrics with 5 operations) per op, in steady state.
func BenchmarkAppend(b *testing.B) {
	md := benchMetrics(100, 5)
	points := countPoints(md)
	c := newConv(b, DefaultConfig())
	step := int64(time.Minute)
	buf := c.Append(nil, md)
	advance(md, step)
	buf = c.Append(buf[:0], md)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		advance(md, step)
		b.StartTimer()
		buf = c.Append(buf[:0], md)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
	b.ReportMetric(float64(points), "points/op")
	b.ReportMetric(float64(len(buf)), "samples/op")
}

// BenchmarkAppendAndDetect runs the whole path, pmetric -> samples -> detector, in steady state.
func BenchmarkAppendAndDetect(b *testing.B) {
	md := benchMetrics(100, 5)
	points := countPoints(md)
	c := newConv(b, DefaultConfig())
	d, err := metricsig.New(metricsig.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	step := int64(time.Minute)
	var buf []metricsig.Sample
	for range 30 { // series set up and baselines warm
		advance(md, step)
		buf = c.Append(buf[:0], md)
		d.Add(buf)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		advance(md, step)
		b.StartTimer()
		buf = c.Append(buf[:0], md)
		d.Add(buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}
