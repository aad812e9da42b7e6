// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package metricspdata

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
)

const (
	cumulative = pmetric.AggregationTemporalityCumulative
	delta      = pmetric.AggregationTemporalityDelta
)

func TestServiceOfPod(t *testing.T) {
	for pod, want := range map[string]string{
		"checkout-5dc8d4f9fd-llznp":           "checkout",
		"ts-basic-service-5dc8d4f9fd-llznp":   "ts-basic-service",
		"ts-food-service-f5756978c-6sb8t":     "ts-food-service",
		"ts-preserve-service-b5ccf8557-l5l4p": "ts-preserve-service",
		"api-v2-7b6dc75c45-r66rb":             "api-v2",
		"old-style-3176041034-x2z4q":          "old-style",     // numeric pod-template-hash (old releases)
		"backup-28391234-hv7pk":               "backup",        // CronJob
		"node-exporter-x2z4q":                 "node-exporter", // DaemonSet
		"redis-0":                             "redis",         // StatefulSet
		"kafka-12":                            "kafka",
		"frontend":                            "frontend",
		"redis-cache":                         "redis-cache", // a word, not a suffix
		"my-nginx":                            "my-nginx",
		"web-abc12":                           "web-abc12", // vowels and 1 are not in Kubernetes' alphabet
		"app-007":                             "app-007",   // not an ordinal
		"api-v2":                              "api-v2",
		"web-x2z4q":                           "web",
		"":                                    "",
		"-":                                   "-",
		"a-":                                  "a-",
		"-x2z4q":                              "-x2z4q",
	} {
		assert.Equal(t, want, ServiceOfPod(pod), pod)
	}
}

func TestServiceOfResource(t *testing.T) {
	for name, tc := range map[string]struct {
		attrs []kv
		want  string
	}{
		"service.name":    {[]kv{{"service.name", "cart"}, {"k8s.pod.name", "other-5dc8d4f9fd-llznp"}}, "cart"},
		"unknown_service": {[]kv{{"service.name", "unknown_service:java"}, {"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}}, "cart"},
		"pod":             {[]kv{{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}, {"k8s.deployment.name", "cart-deploy"}}, "cart"},
		"deployment":      {[]kv{{"k8s.deployment.name", "cart"}, {"k8s.container.name", "server"}}, "cart"},
		"statefulset":     {[]kv{{"k8s.statefulset.name", "db"}}, "db"},
		"daemonset":       {[]kv{{"k8s.daemonset.name", "agent"}}, "agent"},
		"k8s container":   {[]kv{{"k8s.container.name", "server"}}, "server"},
		"container":       {[]kv{{"container.name", "web"}}, "web"},
		"none":            {[]kv{{"host.name", "node-1"}}, ""},
		"not a string":    {[]kv{{"service.name", 42}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			m := pcommon.NewMap()
			putAttrs(m, tc.attrs)
			assert.Equal(t, tc.want, ServiceOf(m))
		})
	}
}

func TestConfig(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	_, err := New(Config{MaxSeries: 0, StaleAfter: 0})
	require.EqualError(t, err, "max_series must be >= 1\nstale_after must be at least 1s")
}

// kubeletstats-like gauges: service from the pod name, container from the resource, units.
func TestGauges(t *testing.T) {
	md := pmetric.NewMetrics()
	pod := resourceMetrics(md, kv{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}, kv{"k8s.namespace.name", "shop"})
	gauge(pod, "k8s.pod.cpu.usage", "{cpu}", at(60), 0.25)
	gauge(pod, "k8s.pod.memory.working_set", "By", at(60), 300<<20)
	gauge(pod, "k8s.pod.memory.usage", "MiBy", at(60), 400)
	gauge(pod, "k8s.pod.filesystem.usage", "By", at(60), 1e9) // not a signal
	ctr := resourceMetrics(md, kv{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}, kv{"k8s.container.name", "server"})
	gauge(ctr, "container.cpu.usage", "{cpu}", at(60), 0.2)
	gauge(ctr, "container.cpu.utilization", "%", at(60), 40)
	proc := resourceMetrics(md, kv{"service.name", "billing"}, kv{"process.pid", 42})
	gauge(proc, "process.cpu.utilization", "1", at(60), 0.1, kv{"state", "user"})
	// a second point of the same metric and time, another state: summed
	dp := proc.At(0).Gauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(at(60)))
	dp.SetDoubleValue(0.05)
	dp.Attributes().PutStr("state", "system")
	gauge(proc, "process.cpu.utilization", "1", at(60), math.NaN()) // invalid
	none := resourceMetrics(md, kv{"host.name", "node-1"})
	gauge(none, "k8s.pod.cpu.usage", "{cpu}", at(60), 1)

	c := newConv(t, DefaultConfig())
	got := c.Append(nil, md)
	want := []metricsig.Sample{
		{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Signal: metricsig.SignalPodCPU, Value: 0.25, Time: at(60)},
		{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Signal: metricsig.SignalPodMemoryWorkingSet, Value: 300 << 20, Time: at(60)},
		{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Signal: metricsig.SignalPodMemory, Value: 400 << 20, Time: at(60)},
		{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Container: "server", Signal: metricsig.SignalContainerCPU, Value: 0.2, Time: at(60)},
		{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Container: "server", Signal: metricsig.SignalContainerCPUUtilization, Value: 0.4, Time: at(60)},
		{Service: "billing", Signal: metricsig.SignalProcessCPUUtilization, Value: 0.15000000000000002, Time: at(60)},
	}
	assert.Equal(t, want, got)
	st := c.Stats()
	assert.Equal(t, Stats{Points: 9, Samples: 6, Ignored: 1, NoService: 1, Invalid: 1}, st)
}

// The Nezha loader's per-pod gauges (internal/nezha, appendMetric).
func TestNezhaGauges(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "ts-food-service"}, kv{"k8s.pod.name", "ts-food-service-f5756978c-6sb8t"})
	gauge(ms, "k8s.pod.cpu.usage", "{cpu}", at(53), 0.0061)
	gauge(ms, "k8s.pod.memory.usage", "By", at(53), 493.6*(1<<20))
	gauge(ms, "k8s.pod.network.io.receive", "By", at(53), 2338)
	gauge(ms, "http.server.request.duration.p95", "s", at(53), 0.095)
	gauge(ms, "http.client.request.duration.p95", "s", at(53), 0.042)
	gauge(ms, "http.server.request.rate", "{request}/s", at(53), 0.13)
	gauge(ms, "http.server.request.success_ratio", "1", at(53), 0.97)
	gauge(ms, "http.server.request.duration.p95", "s", at(113), math.NaN()) // recorded as NaN in the data set
	c := newConv(t, DefaultConfig())
	got := c.Append(nil, md)
	require.Len(t, got, 4)
	assert.Equal(t, metricsig.SignalPodCPU, got[0].Signal)
	assert.Equal(t, metricsig.SignalPodMemory, got[1].Signal)
	assert.Equal(t, metricsig.Sample{Service: "ts-food-service", Pod: "ts-food-service-f5756978c-6sb8t",
		Signal: metricsig.SignalHTTPLatency, Value: 0.095, Time: at(53)}, got[2])
	assert.Equal(t, metricsig.SignalHTTPErrors, got[3].Signal)
	assert.InDelta(t, 0.03, got[3].Value, 1e-12)
	assert.Equal(t, uint64(3), c.Stats().Ignored)
	assert.Equal(t, uint64(1), c.Stats().Invalid)
}

func cpuTime(v float64, start, t int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}, kv{"k8s.container.name", "server"})
	sum(ms, "container.cpu.time", "s", cumulative, start, t, sumPoint{v: v})
	return md
}

func TestCumulativeRateAndResets(t *testing.T) {
	c := newConv(t, DefaultConfig())
	assert.Empty(t, c.Append(nil, cpuTime(100, at(0), at(60))), "the first point starts the series")
	got := c.Append(nil, cpuTime(130, at(0), at(120)))
	require.Len(t, got, 1)
	assert.Equal(t, metricsig.Sample{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Container: "server",
		Signal: metricsig.SignalContainerCPU, Value: 0.5, Time: at(120)}, got[0])

	assert.Empty(t, c.Append(nil, cpuTime(131, at(0), at(120))), "same time again")
	assert.Empty(t, c.Append(nil, cpuTime(125, at(0), at(90))), "older point")
	assert.Equal(t, uint64(2), c.Stats().OutOfOrder)

	// The container restarted at 160 s: the counter restarts from 0 with a new start time.
	got = c.Append(nil, cpuTime(10, at(160), at(180)))
	require.Len(t, got, 1)
	assert.InDelta(t, 0.5, got[0].Value, 1e-12, "10 s of CPU over the 20 s since the new start")

	// A drop without a usable start time: no sample, the series restarts from it.
	assert.Empty(t, c.Append(nil, cpuTime(4, at(160), at(240))))
	assert.Equal(t, uint64(1), c.Stats().Resets)
	got = c.Append(nil, cpuTime(34, at(160), at(300)))
	require.Len(t, got, 1)
	assert.InDelta(t, 0.5, got[0].Value, 1e-12)
	assert.Equal(t, 1, c.Series())
	assert.Equal(t, uint64(1), c.Stats().FirstPoints)

	// Delta temporality needs no state: rate over the point's own interval.
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "billing"})
	sum(ms, "process.cpu.time", "s", delta, at(240), at(300), sumPoint{v: 3, attrs: []kv{{"state", "user"}}},
		sumPoint{v: 1.5, attrs: []kv{{"state", "system"}}})
	sum(ms, "process.cpu.time", "s", delta, 0, at(300), sumPoint{v: 3}) // no start time
	got = c.Append(nil, md)
	require.Len(t, got, 1)
	assert.Equal(t, "billing", got[0].Service)
	assert.Equal(t, metricsig.SignalProcessCPU, got[0].Signal)
	assert.InDelta(t, 0.075, got[0].Value, 1e-12, "4.5 s of CPU (user and system) over 60 s")
	assert.Equal(t, uint64(1), c.Stats().Invalid)
}

func restartsGauge(v float64, t int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"}, kv{"k8s.container.name", "server"})
	dp := gauge(ms, "k8s.container.restarts", "1", t, 0)
	dp.SetIntValue(int64(v))
	return md
}

func TestRestartCounters(t *testing.T) {
	c := newConv(t, DefaultConfig())
	var got []metricsig.Sample
	for i, v := range []float64{2, 2, 3, 5, 0, 1} {
		got = c.Append(got, restartsGauge(v, at(60*(i+1))))
	}
	s := metricsig.Sample{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Container: "server", Signal: metricsig.SignalRestarts}
	s1, s2, s3 := s, s, s
	s1.Value, s1.Time = 1, at(180)
	s2.Value, s2.Time = 2, at(240)
	s3.Value, s3.Time = 1, at(360)
	assert.Equal(t, []metricsig.Sample{s1, s2, s3}, got, "increases only; the reset to 0 is not a restart")
	assert.Equal(t, uint64(1), c.Stats().Resets)

	// kube-state-metrics: one resource (the exporter), pods as point attributes.
	c = newConv(t, DefaultConfig())
	for i, v := range []float64{0, 1} {
		md := pmetric.NewMetrics()
		ms := resourceMetrics(md, kv{"service.name", "kube-state-metrics"})
		sum(ms, "kube_pod_container_status_restarts_total", "", cumulative, at(0), at(60*(i+1)),
			sumPoint{v: v, attrs: []kv{{"pod", "cart-5dc8d4f9fd-llznp"}, {"container", "server"}, {"namespace", "shop"}}},
			sumPoint{v: 0, attrs: []kv{{"pod", "db-0"}, {"container", "postgres"}, {"namespace", "shop"}}})
		got = c.Append(got[:0], md)
	}
	require.Len(t, got, 1)
	assert.Equal(t, metricsig.Sample{Service: "cart", Pod: "cart-5dc8d4f9fd-llznp", Container: "server",
		Signal: metricsig.SignalRestarts, Value: 1, Time: at(120)}, got[0])
}

var httpBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

func httpScrape(t int64, ok, failed []uint64, okSum, failedSum float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "cart"}, kv{"k8s.pod.name", "cart-5dc8d4f9fd-llznp"})
	histogram(ms, "http.server.request.duration", "s", cumulative, at(0), t, httpBounds,
		histPoint{counts: ok, sum: okSum, attrs: []kv{{"http.route", "/cart"}, {"http.response.status_code", 200}}},
		histPoint{counts: failed, sum: failedSum, attrs: []kv{{"http.route", "/cart"}, {"http.response.status_code", 503}}})
	return md
}

func TestHTTPServerHistogram(t *testing.T) {
	c := newConv(t, DefaultConfig())
	assert.Empty(t, c.Append(nil, httpScrape(at(60), []uint64{0, 10, 20, 10, 0, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 0, 2, 0, 0, 0}, 1, 0.4)))
	got := c.Append(nil, httpScrape(at(120), []uint64{0, 20, 60, 50, 10, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 0, 5, 5, 0, 0}, 4, 2.4))
	require.Len(t, got, 2)
	// Interval buckets [0 10 40 40 10 3 5 0 0] (108 requests): rank 102.6 falls in (0.1, 0.25].
	lat, errs := got[0], got[1]
	assert.Equal(t, metricsig.SignalHTTPLatency, lat.Signal)
	assert.InDelta(t, 0.1+0.15*2.6/3, lat.Value, 1e-12)
	assert.InDelta(t, 108, lat.Count, 0)
	assert.Equal(t, "cart", lat.Service)
	assert.Equal(t, at(120), lat.Time)
	assert.Equal(t, metricsig.SignalHTTPErrors, errs.Signal)
	assert.InDelta(t, 8.0/108, errs.Value, 1e-12)
	assert.InDelta(t, 108, errs.Count, 0)

	// A histogram reset (a bucket fell) without a usable start time: no sample.
	assert.Empty(t, c.Append(nil, httpScrape(at(180), []uint64{0, 1, 0, 0, 0, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 0, 5, 5, 0, 0}, 0.01, 2.4)))
	assert.Equal(t, uint64(1), c.Stats().Resets)
	// No requests in an interval: no sample either.
	assert.Empty(t, c.Append(nil, httpScrape(at(240), []uint64{0, 1, 0, 0, 0, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 0, 5, 5, 0, 0}, 0.01, 2.4)))
}

func TestDeltaHistogramAndOldConventions(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "cart"})
	histogram(ms, "http.server.duration", "ms", delta, at(0), at(60), []float64{10, 100, 1000},
		histPoint{counts: []uint64{50, 40, 10, 0}, sum: 9000, attrs: []kv{{"http.status_code", "200"}}})
	c := newConv(t, DefaultConfig())
	got := c.Append(nil, md)
	require.Len(t, got, 2)
	assert.InDelta(t, 0.55, got[0].Value, 1e-12, "p95 in (100 ms, 1 s], converted to seconds")
	assert.InDelta(t, 0, got[1].Value, 0)
	assert.Zero(t, c.Series(), "delta histograms keep no state")
}

func spanScrape(t int64, calls [3]float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "checkout"}, kv{"k8s.pod.name", "checkout-5dc8d4f9fd-llznp"})
	point := func(kind, status string) []kv {
		return []kv{{"service.name", "checkout"}, {"span.name", "GET /cart"}, {"span.kind", kind}, {"status.code", status}}
	}
	sum(ms, "traces.span.metrics.calls", "{call}", cumulative, at(0), t,
		sumPoint{calls[0], point("SPAN_KIND_SERVER", "STATUS_CODE_UNSET")},
		sumPoint{calls[1], point("SPAN_KIND_SERVER", "STATUS_CODE_ERROR")},
		sumPoint{calls[2], point("SPAN_KIND_CLIENT", "STATUS_CODE_ERROR")})
	histogram(ms, "traces.span.metrics.duration", "ms", delta, t-int64(time.Minute), t, []float64{10, 100, 1000},
		histPoint{counts: []uint64{50, 40, 10, 0}, sum: 9000, attrs: point("SPAN_KIND_SERVER", "STATUS_CODE_UNSET")},
		histPoint{counts: []uint64{0, 0, 0, 100}, sum: 1e6, attrs: point("SPAN_KIND_CLIENT", "STATUS_CODE_UNSET")})
	return md
}

func TestSpanmetrics(t *testing.T) {
	c := newConv(t, DefaultConfig())
	got := c.Append(nil, spanScrape(at(60), [3]float64{100, 5, 50}))
	require.Len(t, got, 1, "latency from the delta histogram; calls start their series")
	assert.Equal(t, metricsig.SignalSpanLatency, got[0].Signal)
	assert.InDelta(t, 0.55, got[0].Value, 1e-12, "client spans are not the service's own latency")
	assert.InDelta(t, 100, got[0].Count, 0)

	got = c.Append(nil, spanScrape(at(120), [3]float64{160, 20, 100}))
	errs := only(got, metricsig.SignalSpanErrors)
	require.Len(t, errs, 1)
	assert.Equal(t, metricsig.Sample{Service: "checkout", Pod: "checkout-5dc8d4f9fd-llznp", Signal: metricsig.SignalSpanErrors,
		Value: 0.2, Count: 75, Time: at(120)}, errs[0])
	st := c.Stats()
	assert.Equal(t, uint64(4), st.Skipped, "client points of calls and duration, both scrapes")
	assert.Equal(t, uint64(2), st.FirstPoints)

	// Bare names are spanmetrics only when their points carry span attributes.
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "batch"})
	sum(ms, "calls", "", delta, at(60), at(120), sumPoint{v: 3, attrs: []kv{{"phone.number", "x"}}})
	sum(ms, "calls", "", delta, at(60), at(120), sumPoint{v: 4, attrs: []kv{{"span.name", "run"}, {"status.code", "STATUS_CODE_ERROR"}}})
	// The otel.status_code convention (spanmetrics.statusCodeConvention.useOtelPrefix): UNSET
	// spans carry no status attribute.
	sum(ms, "traces.span.metrics.calls", "", delta, at(60), at(120),
		sumPoint{v: 1, attrs: []kv{{"span.name", "run"}, {"span.kind", "SPAN_KIND_SERVER"}, {"otel.status_code", "ERROR"}}},
		sumPoint{v: 2, attrs: []kv{{"span.name", "run"}, {"span.kind", "SPAN_KIND_SERVER"}, {"otel.status_code", "OK"}}},
		sumPoint{v: 1, attrs: []kv{{"span.name", "run"}, {"span.kind", "SPAN_KIND_SERVER"}}})
	got = c.Append(nil, md)
	require.Len(t, got, 2)
	assert.InDelta(t, 1, got[0].Value, 0)
	assert.InDelta(t, 0.25, got[1].Value, 0)
	assert.InDelta(t, 4, got[1].Count, 0)
	assert.Equal(t, uint64(1), c.Stats().Ignored)
}

func TestRPCStatus(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "ads"})
	histogram(ms, "rpc.server.duration", "ms", delta, at(0), at(60), []float64{10, 100},
		histPoint{counts: []uint64{9, 0, 0}, sum: 45, attrs: []kv{{"rpc.grpc.status_code", 0}}},
		histPoint{counts: []uint64{0, 1, 0}, sum: 50, attrs: []kv{{"rpc.grpc.status_code", 14}}},
		histPoint{counts: []uint64{0, 1, 0}, sum: 50, attrs: []kv{{"rpc.grpc.status_code", 5}}}) // NOT_FOUND: a client error
	histogram(ms, "rpc.server.call.duration", "s", delta, at(0), at(60), []float64{0.01, 0.1},
		histPoint{counts: []uint64{3, 0, 0}, sum: 0.01, attrs: []kv{{"rpc.response.status_code", "OK"}}},
		histPoint{counts: []uint64{0, 1, 0}, sum: 0.05, attrs: []kv{{"rpc.response.status_code", "UNAVAILABLE"}}})
	c := newConv(t, DefaultConfig())
	got := only(c.Append(nil, md), metricsig.SignalRPCErrors)
	require.Len(t, got, 2)
	assert.InDelta(t, 1.0/11, got[0].Value, 1e-12)
	assert.InDelta(t, 0.25, got[1].Value, 1e-12)
}

func TestExponentialHistogramMean(t *testing.T) {
	build := func(t int64, count uint64, sum float64) pmetric.Metrics {
		md := pmetric.NewMetrics()
		ms := resourceMetrics(md, kv{"service.name", "cart"})
		m := ms.AppendEmpty()
		m.SetName("http.server.request.duration")
		m.SetUnit("s")
		h := m.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(cumulative)
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts(at(0)))
		dp.SetTimestamp(ts(t))
		dp.SetCount(count)
		dp.SetSum(sum)
		dp.Attributes().PutInt("http.response.status_code", 200)
		return md
	}
	c := newConv(t, DefaultConfig())
	assert.Empty(t, c.Append(nil, build(at(60), 10, 1)))
	got := c.Append(nil, build(at(120), 30, 3))
	require.Len(t, got, 2)
	assert.InDelta(t, 0.1, got[0].Value, 1e-12, "mean of the interval")
	assert.InDelta(t, 20, got[0].Count, 0)
	assert.InDelta(t, 0, got[1].Value, 0)
}

func TestWrongTypesAreInvalid(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := resourceMetrics(md, kv{"service.name", "cart"})
	histogram(ms, "k8s.pod.cpu.usage", "{cpu}", delta, at(0), at(60), []float64{1}, histPoint{counts: []uint64{1, 0}})
	gauge(ms, "http.server.request.duration", "s", at(60), 1)
	m := ms.AppendEmpty()
	m.SetName("process.cpu.time")
	m.SetEmptySummary().DataPoints().AppendEmpty()
	c := newConv(t, DefaultConfig())
	assert.Empty(t, c.Append(nil, md))
	assert.Equal(t, Stats{Points: 3, Invalid: 3}, c.Stats())
}

func TestSeriesBound(t *testing.T) {
	c := newConv(t, Config{MaxSeries: 2, StaleAfter: 5 * time.Minute})
	scrape := func(sec int, pods ...string) []metricsig.Sample {
		md := pmetric.NewMetrics()
		for _, p := range pods {
			ms := resourceMetrics(md, kv{"k8s.pod.name", p})
			sum(ms, "k8s.pod.cpu.time", "s", cumulative, at(0), at(sec), sumPoint{v: float64(sec)})
		}
		return c.Append(nil, md)
	}
	scrape(60, "a-0", "b-0", "c-0")
	assert.Equal(t, 2, c.Series())
	assert.Equal(t, uint64(1), c.Stats().DroppedSeries)
	assert.Len(t, scrape(120, "a-0", "b-0", "c-0"), 2)
	// a-0 and b-0 go away; after stale_after, c-0 and d-0 take their place.
	for sec := 180; sec <= 600; sec += 60 {
		scrape(sec, "c-0", "d-0")
	}
	assert.Equal(t, uint64(2), c.Stats().SeriesEvicted)
	assert.Len(t, scrape(660, "c-0", "d-0"), 2)
}

func TestAttributeOrderIsOneSeries(t *testing.T) {
	a, b := pcommon.NewMap(), pcommon.NewMap()
	putAttrs(a, []kv{{"x", "1"}, {"y", 2}, {"z", true}, {"w", 1.5}})
	putAttrs(b, []kv{{"w", 1.5}, {"z", true}, {"y", 2}, {"x", "1"}})
	assert.Equal(t, hashMap(a), hashMap(b))
	b.PutStr("x", "2")
	assert.NotEqual(t, hashMap(a), hashMap(b))
	n := a.PutEmptyMap("nested")
	n.PutStr("k", "v")
	s := a.PutEmptySlice("list")
	s.AppendEmpty().SetStr("a")
	a.PutEmptyBytes("raw").FromRaw([]byte{1, 2})
	h := hashMap(a)
	s.AppendEmpty().SetStr("b")
	assert.NotEqual(t, h, hashMap(a))
}

// Steady state: no allocation per data point.
func TestAppendDoesNotAllocate(t *testing.T) {
	md := benchMetrics(20, 3)
	c := newConv(t, DefaultConfig())
	buf := c.Append(nil, md)
	step := int64(time.Minute)
	advance(md, step)
	buf = c.Append(buf[:0], md)
	require.NotEmpty(t, buf)
	allocs := testing.AllocsPerRun(50, func() {
		advance(md, step)
		buf = c.Append(buf[:0], md)
	})
	assert.Zero(t, allocs)
}

// End to end: kubeletstats-style cumulative CPU time and a restart counter of ten pods, through
// the converter and the detector. One pod's CPU triples for five minutes, another restarts once.
func TestConverterAndDetector(t *testing.T) {
	c := newConv(t, DefaultConfig())
	d, err := metricsig.New(metricsig.DefaultConfig())
	require.NoError(t, err)
	cpu := make([]float64, 10)
	restarts := make([]int64, 10)
	state := uint64(1)
	noise := func() float64 { // deterministic, within +-10 %
		state = state*6364136223846793005 + 1442695040888963407
		return 0.9 + 0.2*float64(state>>11)/float64(1<<53)
	}
	var evs []metricsig.Evidence
	var buf []metricsig.Sample
	for m := range 120 {
		md := pmetric.NewMetrics()
		for i := range 10 {
			rate := (0.1 + 0.02*float64(i)) * noise()
			if i == 4 && m >= 90 && m < 95 {
				rate *= 3
			}
			cpu[i] += rate * 60
			if i == 7 && m == 100 {
				restarts[i]++
			}
			ms := resourceMetrics(md, kv{"k8s.pod.name", fmt.Sprintf("svc%d-7f8d7d756d-kzp47", i)}, kv{"k8s.container.name", "app"})
			sum(ms, "container.cpu.time", "s", cumulative, at(-60), at(60*m), sumPoint{v: cpu[i]})
			gauge(ms, "k8s.container.restarts", "1", at(60*m), 0).SetIntValue(restarts[i])
		}
		buf = c.Append(buf[:0], md)
		evs = append(evs, d.Add(buf)...)
	}
	evs = append(evs, d.Advance(at(60*125))...)
	require.NotEmpty(t, evs)
	var cpuEv, restartEv int
	for _, e := range evs {
		switch e.Type {
		case "metric_cpu":
			cpuEv++
			assert.Equal(t, "svc4", e.Service)
			assert.GreaterOrEqual(t, e.Time, at(60*90))
			assert.Less(t, e.Time, at(60*95))
			assert.Regexp(t, `^container cpu [23]\.\dx its baseline \(median 18\dm, now \d+m, z \d+\) on pod svc4-7f8d7d756d-kzp47 container app$`, e.Reason)
		case "metric_restarts":
			restartEv++
			assert.Equal(t, "svc7", e.Service)
			assert.Equal(t, "1 restart of pod svc7-7f8d7d756d-kzp47 container app", e.Reason)
			assert.Equal(t, at(6000), e.Time)
		default:
			t.Errorf("unexpected evidence %+v", e)
		}
	}
	assert.Equal(t, 5, cpuEv)
	assert.Equal(t, 1, restartEv)
	assert.Equal(t, uint64(20), c.Stats().FirstPoints)
}
