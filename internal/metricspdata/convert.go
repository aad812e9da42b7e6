// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package metricspdata turns OTLP metrics (pmetric.Metrics) into metricsig.Samples: one sample
// per service (or pod, or container), signal and point time. It recognises the semantic-convention
// names of the kubeletstats receiver, the hostmetrics process scraper, Kubernetes restart
// counters, HTTP and RPC server duration histograms and the spanmetrics connector's output (see
// docs/metrics.md), and counts everything else as ignored.
//
// Cumulative sums and histograms are differenced per series (resource, metric, point attributes)
// into rates and per-interval distributions, with counter resets detected; the series state is
// bounded. Points of one metric that share a time and a service (a histogram per route and status
// code, CPU time per state) are merged into one sample. A Converter is not safe for concurrent use.
package metricspdata // import "github.com/otelcol-aiops/otelcol-aiops/internal/metricspdata"

import (
	"errors"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
)

// Config bounds the converter's state.
type Config struct {
	// MaxSeries bounds the cumulative series (resource, metric, point attributes) whose last point
	// is kept for differencing. Points of new series beyond it are dropped (Stats.DroppedSeries)
	// once series idle for StaleAfter have been evicted.
	MaxSeries int
	// StaleAfter: cumulative series without points for this long (event time) may be evicted.
	StaleAfter time.Duration
}

// DefaultConfig returns the defaults: 100 000 series, stale after 15 minutes.
func DefaultConfig() Config {
	return Config{MaxSeries: 100_000, StaleAfter: 15 * time.Minute}
}

// Validate reports invalid settings.
func (c Config) Validate() error {
	var errs []error
	if c.MaxSeries < 1 {
		errs = append(errs, errors.New("max_series must be >= 1"))
	}
	if c.StaleAfter < time.Second {
		errs = append(errs, errors.New("stale_after must be at least 1s"))
	}
	return errors.Join(errs...)
}

// Stats are cumulative counters. Every data point of a recognised metric is counted in Points
// and, unless it contributed to a sample, in exactly one of the reasons below.
type Stats struct {
	Points        uint64 // data points of recognised metrics
	Samples       uint64 // samples appended
	Ignored       uint64 // data points of metrics not recognised (and bare "calls"/"duration" points without span.name or span.kind)
	Skipped       uint64 // spanmetrics points of client, producer and internal spans (not the service's own requests)
	NoService     uint64 // points whose resource and attributes name no service
	Invalid       uint64 // no time, no value, NaN, negative, a type that does not fit the name, delta without start time
	FirstPoints   uint64 // cumulative points that start a series (no interval yet)
	Resets        uint64 // cumulative points after a reset (the value fell or the start time moved) without a usable interval
	OutOfOrder    uint64 // cumulative points not newer than their series' last point
	DroppedSeries uint64 // cumulative points of new series beyond MaxSeries
	SeriesEvicted uint64 // idle cumulative series forgotten to make room
}

// role tells how a metric's points become sample values.
type role uint8

const (
	roleLevel    role = iota + 1 // gauge (or non-monotonic sum) value, summed over the attribute sets of a group
	roleMean                     // gauge value, averaged over the attribute sets of a group
	roleRate                     // counter of seconds: its rate (cores)
	roleIncrease                 // counter, or gauge that only grows until reset: its increase
	roleLatency                  // histogram of durations: p95 (mean without buckets) and error share
	roleCalls                    // counter of calls: the share with an error status
)

// errRule tells how a point's attributes mark failed requests.
type errRule uint8

const (
	errNone errRule = iota
	errHTTP         // http.response.status_code (or http.status_code) >= 500
	errRPC          // a gRPC server-error status code
	errSpan         // status.code STATUS_CODE_ERROR (or otel.status_code ERROR)
)

type spec struct {
	sig       metricsig.Signal
	errSig    metricsig.Signal // histograms: the error-rate signal (0: none)
	role      role
	errs      errRule
	unit      string // assumed when the metric carries no unit
	container bool   // container-level metric: Sample.Container from the resource
	span      bool   // spanmetrics: server and consumer spans only
	bare      bool   // spanmetrics without namespace (legacy names): points must carry span.name or span.kind
	invert    bool   // a success ratio: the error share is 1 - value
	ksm       bool   // kube-state-metrics: pod and container are point attributes
}

// specs are the recognised metric names (pointers, so that a lookup copies nothing).
var specs = map[string]*spec{
	// kubeletstats receiver (and the Nezha loader, internal/nezha)
	"k8s.pod.cpu.usage":            {sig: metricsig.SignalPodCPU, role: roleLevel},
	"k8s.pod.cpu.time":             {sig: metricsig.SignalPodCPU, role: roleRate, unit: "s"},
	"k8s.pod.cpu.utilization":      {sig: metricsig.SignalPodCPUUtilization, role: roleLevel},
	"container.cpu.usage":          {sig: metricsig.SignalContainerCPU, role: roleLevel, container: true},
	"container.cpu.time":           {sig: metricsig.SignalContainerCPU, role: roleRate, unit: "s", container: true},
	"container.cpu.utilization":    {sig: metricsig.SignalContainerCPUUtilization, role: roleLevel, container: true},
	"k8s.pod.memory.usage":         {sig: metricsig.SignalPodMemory, role: roleLevel, unit: "By"},
	"k8s.pod.memory.working_set":   {sig: metricsig.SignalPodMemoryWorkingSet, role: roleLevel, unit: "By"},
	"container.memory.usage":       {sig: metricsig.SignalContainerMemory, role: roleLevel, unit: "By", container: true},
	"container.memory.working_set": {sig: metricsig.SignalContainerMemoryWorkingSet, role: roleLevel, unit: "By", container: true},
	// hostmetrics receiver, process scraper
	"process.cpu.time":        {sig: metricsig.SignalProcessCPU, role: roleRate, unit: "s"},
	"process.cpu.utilization": {sig: metricsig.SignalProcessCPUUtilization, role: roleLevel},
	"process.memory.usage":    {sig: metricsig.SignalProcessMemory, role: roleLevel, unit: "By"},
	// restart counters: k8s_cluster receiver (a gauge), others as counters
	"k8s.container.restarts":                   {sig: metricsig.SignalRestarts, role: roleIncrease, container: true},
	"k8s.pod.restarts":                         {sig: metricsig.SignalRestarts, role: roleIncrease},
	"container.restarts":                       {sig: metricsig.SignalRestarts, role: roleIncrease, container: true},
	"kube_pod_container_status_restarts_total": {sig: metricsig.SignalRestarts, role: roleIncrease, ksm: true},
	// HTTP and RPC server metrics of instrumented services (current and older semantic conventions)
	"http.server.request.duration": {sig: metricsig.SignalHTTPLatency, errSig: metricsig.SignalHTTPErrors, role: roleLatency, errs: errHTTP, unit: "s"},
	"http.server.duration":         {sig: metricsig.SignalHTTPLatency, errSig: metricsig.SignalHTTPErrors, role: roleLatency, errs: errHTTP, unit: "ms"},
	"rpc.server.call.duration":     {sig: metricsig.SignalRPCLatency, errSig: metricsig.SignalRPCErrors, role: roleLatency, errs: errRPC, unit: "s"},
	"rpc.server.duration":          {sig: metricsig.SignalRPCLatency, errSig: metricsig.SignalRPCErrors, role: roleLatency, errs: errRPC, unit: "ms"},
	// pre-aggregated per-pod gauges (the Nezha loader)
	"http.server.request.duration.p95":  {sig: metricsig.SignalHTTPLatency, role: roleMean, unit: "s"},
	"http.server.request.success_ratio": {sig: metricsig.SignalHTTPErrors, role: roleMean, invert: true},
	// spanmetrics connector (default namespace; without one, as with its legacyMetricNames gate)
	"traces.span.metrics.duration": {sig: metricsig.SignalSpanLatency, role: roleLatency, unit: "ms", span: true},
	"duration":                     {sig: metricsig.SignalSpanLatency, role: roleLatency, unit: "ms", span: true, bare: true},
	"traces.span.metrics.calls":    {sig: metricsig.SignalSpanErrors, role: roleCalls, errs: errSpan, span: true},
	"calls":                        {sig: metricsig.SignalSpanErrors, role: roleCalls, errs: errSpan, span: true, bare: true},
}

// latencyQuantile is the quantile taken from duration histograms with buckets.
const latencyQuantile = 0.95

// cumState is the last point of a cumulative series.
type cumState struct {
	t, start int64
	v        float64  // counter value, or histogram count
	sum      float64  // histogram sum
	counts   []uint64 // histogram bucket counts
}

// resource is the identity of one ResourceMetrics, and what is known of the metric being read.
type resource struct {
	attrs              pcommon.Map
	service, pod, ctr  string
	named              bool // service from service.name
	hash               uint64
	hashed             bool
	metricHash         uint64
	scale              float64
	spec               *spec
	cumulative, bucket bool
}

// group accumulates the points of one metric that share time, service, pod and container.
type group struct {
	on            bool
	t             int64
	svc, pod, ctr string
	level         float64
	n             int
	calls, errs   float64
	errInfo       bool
	latSum, latN  float64
	buckets       []float64
	nb            int
	bounds        pcommon.Float64Slice
	bucketsOK     bool
	bucketsN      float64 // requests in the merged buckets
}

// Converter turns pmetric.Metrics into samples. Not goroutine-safe.
type Converter struct {
	cfg       Config
	series    map[uint64]*cumState
	stats     Stats
	g         group
	wm        int64 // largest cumulative point time seen (for eviction)
	lastSweep int64
}

// New returns a converter, or an error for an invalid config.
func New(cfg Config) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Converter{cfg: cfg, series: make(map[uint64]*cumState), lastSweep: math.MinInt64}, nil
}

// Stats returns the counters.
func (c *Converter) Stats() Stats { return c.stats }

// Series returns the number of cumulative series held.
func (c *Converter) Series() int { return len(c.series) }

// Append appends the samples of md to dst and returns the extended slice. The samples' strings
// share md's memory: use them before md is released (metricsig.Detector copies what it keeps).
func (c *Converter) Append(dst []metricsig.Sample, md pmetric.Metrics) []metricsig.Sample {
	n0 := len(dst)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		r := resource{attrs: rm.Resource().Attributes()}
		r.identify()
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				sp := specs[m.Name()]
				if sp == nil {
					c.stats.Ignored += uint64(pointCount(m))
					continue
				}
				dst = c.metric(dst, &r, m, sp)
			}
		}
	}
	c.stats.Samples += uint64(len(dst) - n0)
	return dst
}

func (r *resource) identify() {
	if s := str(r.attrs, attrServiceName); s != "" && !strings.HasPrefix(s, "unknown_service") {
		r.service, r.named = s, true
	} else {
		r.service = ServiceOf(r.attrs)
	}
	r.pod = str(r.attrs, attrPodName)
	if r.ctr = str(r.attrs, attrK8sContainer); r.ctr == "" {
		r.ctr = str(r.attrs, attrContainerName)
	}
}

func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// unitScale returns the factor to the base unit (seconds, bytes, ratio) of a UCUM unit.
func unitScale(u, def string) float64 {
	if u == "" {
		u = def
	}
	switch u {
	case "ms":
		return 1e-3
	case "us", "µs":
		return 1e-6
	case "ns":
		return 1e-9
	case "min":
		return 60
	case "KiBy":
		return 1 << 10
	case "MiBy":
		return 1 << 20
	case "GiBy":
		return 1 << 30
	case "kBy", "KBy":
		return 1e3
	case "MBy":
		return 1e6
	case "GBy":
		return 1e9
	case "%":
		return 0.01
	}
	return 1
}

func (c *Converter) metric(dst []metricsig.Sample, r *resource, m pmetric.Metric, sp *spec) []metricsig.Sample {
	r.spec = sp
	r.scale = unitScale(m.Unit(), sp.unit)
	r.metricHash = hashString(m.Name())
	r.cumulative, r.bucket = false, false
	c.g.on = false
	ok := false
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		switch sp.role {
		case roleLevel, roleMean:
			dst, ok = c.levels(dst, r, m.Gauge().DataPoints()), true
		case roleIncrease:
			r.cumulative = true
			dst, ok = c.counters(dst, r, m.Gauge().DataPoints()), true
		}
	case pmetric.MetricTypeSum:
		s := m.Sum()
		switch sp.role {
		case roleLevel, roleMean:
			dst, ok = c.levels(dst, r, s.DataPoints()), true
		case roleRate, roleIncrease, roleCalls:
			r.cumulative = s.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
			dst, ok = c.counters(dst, r, s.DataPoints()), true
		}
	case pmetric.MetricTypeHistogram:
		if sp.role == roleLatency {
			h := m.Histogram()
			r.cumulative = h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
			r.bucket = true
			dst, ok = c.histograms(dst, r, h.DataPoints()), true
		}
	case pmetric.MetricTypeExponentialHistogram:
		if sp.role == roleLatency {
			h := m.ExponentialHistogram()
			r.cumulative = h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
			dst, ok = c.expHistograms(dst, r, h.DataPoints()), true
		}
	}
	if !ok {
		n := uint64(pointCount(m))
		c.stats.Points += n
		c.stats.Invalid += n
		return dst
	}
	return c.flush(dst, r)
}

// point resolves the service, pod and container of a data point and joins (or starts) the
// group it belongs to; false when the point is skipped (counted).
func (c *Converter) point(dst []metricsig.Sample, r *resource, attrs pcommon.Map, t int64) ([]metricsig.Sample, bool) {
	sp := r.spec
	if sp.bare {
		_, a := attrs.Get("span.name")
		_, b := attrs.Get("span.kind")
		if !a && !b {
			c.stats.Ignored++ // a "calls" or "duration" metric of something else
			return dst, false
		}
	}
	c.stats.Points++
	if sp.span {
		switch str(attrs, "span.kind") {
		case "", "SPAN_KIND_SERVER", "SPAN_KIND_CONSUMER", "SPAN_KIND_UNSPECIFIED":
		default:
			c.stats.Skipped++
			return dst, false
		}
	}
	if t <= 0 {
		c.stats.Invalid++
		return dst, false
	}
	svc, pod, ctr := r.service, r.pod, ""
	if sp.container {
		ctr = r.ctr
	}
	if sp.ksm {
		if p := str(attrs, "pod"); p != "" {
			pod, svc = p, ServiceOfPod(p)
		}
		ctr = str(attrs, "container")
	}
	if p := str(attrs, attrPodName); p != "" {
		pod = p
		if !r.named {
			svc = ServiceOfPod(p)
		}
	}
	if s := str(attrs, attrServiceName); s != "" && !strings.HasPrefix(s, "unknown_service") {
		svc = s
	}
	if svc == "" {
		c.stats.NoService++
		return dst, false
	}
	g := &c.g
	if g.on && g.t == t && g.svc == svc && g.pod == pod && g.ctr == ctr {
		return dst, true
	}
	dst = c.flush(dst, r)
	*g = group{on: true, t: t, svc: svc, pod: pod, ctr: ctr, buckets: g.buckets, bucketsOK: true}
	return dst, true
}

func number(dp pmetric.NumberDataPoint) (float64, bool) {
	if dp.Flags().NoRecordedValue() {
		return 0, false
	}
	var v float64
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v = float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		v = dp.DoubleValue()
	default:
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, false
	}
	return v, true
}

func (c *Converter) levels(dst []metricsig.Sample, r *resource, dps pmetric.NumberDataPointSlice) []metricsig.Sample {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		var ok bool
		if dst, ok = c.point(dst, r, dp.Attributes(), int64(dp.Timestamp())); !ok {
			continue
		}
		v, ok := number(dp)
		if !ok {
			c.stats.Invalid++
			continue
		}
		v *= r.scale
		if r.spec.invert {
			v = 1 - min(v, 1)
		}
		c.g.level += v
		c.g.n++
	}
	return dst
}

// state returns the cumulative state of a point's series and whether it is new; nil when the
// series cannot be tracked (MaxSeries).
func (c *Converter) state(r *resource, attrs pcommon.Map, t int64) (*cumState, bool) {
	if !r.hashed {
		r.hash, r.hashed = hashMap(r.attrs), true
	}
	k := mix(r.hash^r.metricHash) + hashMap(attrs)
	c.wm = max(c.wm, t)
	if st := c.series[k]; st != nil {
		return st, false
	}
	if len(c.series) >= c.cfg.MaxSeries {
		c.sweep()
		if len(c.series) >= c.cfg.MaxSeries {
			c.stats.DroppedSeries++
			return nil, false
		}
	}
	st := &cumState{}
	c.series[k] = st
	return st, true
}

// sweep evicts series idle for StaleAfter; at most once a minute of event time.
func (c *Converter) sweep() {
	if c.lastSweep != math.MinInt64 && c.wm-c.lastSweep < int64(time.Minute) {
		return
	}
	c.lastSweep = c.wm
	cut := c.wm - int64(c.cfg.StaleAfter)
	for k, st := range c.series {
		if st.t < cut {
			delete(c.series, k)
			c.stats.SeriesEvicted++
		}
	}
}

func (c *Converter) counters(dst []metricsig.Sample, r *resource, dps pmetric.NumberDataPointSlice) []metricsig.Sample {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		t := int64(dp.Timestamp())
		var ok bool
		if dst, ok = c.point(dst, r, dp.Attributes(), t); !ok {
			continue
		}
		v, ok := number(dp)
		if !ok {
			c.stats.Invalid++
			continue
		}
		v *= r.scale
		start := int64(dp.StartTimestamp())
		var delta float64
		var dt int64
		if r.cumulative {
			st, fresh := c.state(r, dp.Attributes(), t)
			switch {
			case st == nil:
				continue
			case fresh:
				st.t, st.start, st.v = t, start, v
				c.stats.FirstPoints++
				continue
			case t <= st.t:
				c.stats.OutOfOrder++
				continue
			}
			delta, dt = v-st.v, t-st.t
			if delta < 0 || (start > 0 && st.start > 0 && start != st.start) {
				// A reset: usable only when the new start time is known to follow the last point.
				if !(start > st.t && start < t) {
					st.t, st.start, st.v = t, start, v
					c.stats.Resets++
					continue
				}
				delta, dt = v, t-start
			}
			st.t, st.start, st.v = t, start, v
		} else {
			delta, dt = v, t-start
			if r.spec.role == roleRate && (start <= 0 || dt <= 0) {
				c.stats.Invalid++
				continue
			}
		}
		g := &c.g
		switch r.spec.role {
		case roleRate:
			g.level += delta / (float64(dt) / 1e9)
			g.n++
		case roleIncrease:
			g.level += delta
			g.n++
		case roleCalls:
			g.calls += delta
			g.errInfo = true
			if failed(r.spec.errs, dp.Attributes()) {
				g.errs += delta
			}
		}
	}
	return dst
}

func (c *Converter) histograms(dst []metricsig.Sample, r *resource, dps pmetric.HistogramDataPointSlice) []metricsig.Sample {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		t := int64(dp.Timestamp())
		var ok bool
		if dst, ok = c.point(dst, r, dp.Attributes(), t); !ok {
			continue
		}
		if dp.Flags().NoRecordedValue() || math.IsNaN(dp.Sum()) || math.IsInf(dp.Sum(), 0) {
			c.stats.Invalid++
			continue
		}
		bc, bounds := dp.BucketCounts(), dp.ExplicitBounds()
		hasBuckets := bounds.Len() > 0 && bc.Len() == bounds.Len()+1
		count, sum := float64(dp.Count()), dp.Sum()
		start := int64(dp.StartTimestamp())
		var prev []uint64 // cumulative: bucket counts to subtract
		if r.cumulative {
			st, fresh := c.state(r, dp.Attributes(), t)
			switch {
			case st == nil:
				continue
			case fresh:
				st.setHist(t, start, count, sum, bc)
				c.stats.FirstPoints++
				continue
			case t <= st.t:
				c.stats.OutOfOrder++
				continue
			}
			reset := count < st.v || (start > 0 && st.start > 0 && start != st.start) || len(st.counts) != bc.Len()
			for j := 0; !reset && j < bc.Len(); j++ {
				reset = bc.At(j) < st.counts[j]
			}
			switch {
			case !reset:
				count, sum = count-st.v, sum-st.sum
				prev = st.counts
			case !(start > st.t && start < t):
				st.setHist(t, start, count, sum, bc)
				c.stats.Resets++
				continue
			}
			// (after a usable reset the point's own counts are the interval's)
			c.addHist(r, dp, count, sum, hasBuckets, prev)
			st.setHist(t, start, float64(dp.Count()), dp.Sum(), bc)
			continue
		}
		c.addHist(r, dp, count, sum, hasBuckets, nil)
	}
	return dst
}

// addHist adds one interval of a histogram (counts minus prev when prev is set) to the group.
func (c *Converter) addHist(r *resource, dp pmetric.HistogramDataPoint, count, sum float64, hasBuckets bool, prev []uint64) {
	if !(count > 0) {
		return
	}
	g := &c.g
	g.calls += count
	if dp.HasSum() {
		g.latSum += sum * r.scale
		g.latN += count
	}
	if r.spec.errs != errNone {
		if known, bad := status(r.spec.errs, dp.Attributes()); known {
			g.errInfo = true
			if bad {
				g.errs += count
			}
		}
	}
	if !hasBuckets {
		g.bucketsOK = false
		return
	}
	bc, bounds := dp.BucketCounts(), dp.ExplicitBounds()
	if g.nb == 0 {
		if cap(g.buckets) < bc.Len() {
			g.buckets = make([]float64, bc.Len())
		}
		g.buckets = g.buckets[:bc.Len()]
		clear(g.buckets)
		g.nb = bc.Len()
		g.bounds = bounds
	} else if !sameBounds(g.bounds, bounds) {
		g.bucketsOK = false
		return
	}
	for j := 0; j < bc.Len(); j++ {
		d := float64(bc.At(j))
		if prev != nil {
			d -= float64(prev[j])
		}
		g.buckets[j] += d
		g.bucketsN += d
	}
}

func (st *cumState) setHist(t, start int64, count, sum float64, bc pcommon.UInt64Slice) {
	st.t, st.start, st.v, st.sum = t, start, count, sum
	if cap(st.counts) < bc.Len() {
		st.counts = make([]uint64, bc.Len())
	}
	st.counts = st.counts[:bc.Len()]
	for j := range st.counts {
		st.counts[j] = bc.At(j)
	}
}

func sameBounds(a, b pcommon.Float64Slice) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if a.At(i) != b.At(i) {
			return false
		}
	}
	return true
}

func (c *Converter) expHistograms(dst []metricsig.Sample, r *resource, dps pmetric.ExponentialHistogramDataPointSlice) []metricsig.Sample {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		t := int64(dp.Timestamp())
		var ok bool
		if dst, ok = c.point(dst, r, dp.Attributes(), t); !ok {
			continue
		}
		if dp.Flags().NoRecordedValue() || math.IsNaN(dp.Sum()) || math.IsInf(dp.Sum(), 0) {
			c.stats.Invalid++
			continue
		}
		count, sum := float64(dp.Count()), dp.Sum()
		start := int64(dp.StartTimestamp())
		if r.cumulative {
			st, fresh := c.state(r, dp.Attributes(), t)
			switch {
			case st == nil:
				continue
			case fresh:
				st.t, st.start, st.v, st.sum = t, start, count, sum
				c.stats.FirstPoints++
				continue
			case t <= st.t:
				c.stats.OutOfOrder++
				continue
			}
			if count < st.v || (start > 0 && st.start > 0 && start != st.start) {
				if !(start > st.t && start < t) {
					st.t, st.start, st.v, st.sum = t, start, count, sum
					c.stats.Resets++
					continue
				}
				st.t, st.start, st.v, st.sum = t, start, count, sum
			} else {
				count, sum, st.t, st.start, st.v, st.sum = count-st.v, sum-st.sum, t, start, count, sum
			}
		}
		if !(count > 0) {
			continue
		}
		g := &c.g
		g.calls += count
		g.bucketsOK = false
		if dp.HasSum() {
			g.latSum += sum * r.scale
			g.latN += count
		}
		if r.spec.errs != errNone {
			if known, bad := status(r.spec.errs, dp.Attributes()); known {
				g.errInfo = true
				if bad {
					g.errs += count
				}
			}
		}
	}
	return dst
}

// flush appends the samples of the current group.
func (c *Converter) flush(dst []metricsig.Sample, r *resource) []metricsig.Sample {
	g := &c.g
	if !g.on {
		return dst
	}
	g.on = false
	sp := r.spec
	s := metricsig.Sample{Service: g.svc, Pod: g.pod, Container: g.ctr, Signal: sp.sig, Time: g.t}
	switch sp.role {
	case roleLevel, roleRate:
		if g.n > 0 {
			s.Value = g.level
			dst = append(dst, s)
		}
	case roleMean:
		if g.n > 0 {
			s.Value = g.level / float64(g.n)
			dst = append(dst, s)
		}
	case roleIncrease:
		if g.level > 0 {
			s.Value = g.level
			dst = append(dst, s)
		}
	case roleLatency:
		if !(g.calls > 0) {
			return dst
		}
		s.Count = g.calls
		switch {
		case g.nb > 0 && g.bucketsOK && g.bucketsN > 0:
			s.Value = quantile(latencyQuantile, g.buckets[:g.nb], g.bounds, g.bucketsN) * r.scale
			dst = append(dst, s)
		case g.latN > 0:
			s.Value = max(g.latSum/g.latN, 0)
			dst = append(dst, s)
		}
		if sp.errSig != metricsig.SignalUnknown && g.errInfo {
			s.Signal, s.Value = sp.errSig, g.errs/g.calls
			dst = append(dst, s)
		}
	case roleCalls:
		if g.calls > 0 && g.errInfo {
			s.Count, s.Value = g.calls, g.errs/g.calls
			dst = append(dst, s)
		}
	}
	return dst
}

// quantile estimates the q-quantile of explicit-bucket counts (len(bounds)+1 buckets) by linear
// interpolation within the bucket, with 0 as the lower end of the first bucket; a rank in the
// overflow bucket gives the last bound.
func quantile(q float64, counts []float64, bounds pcommon.Float64Slice, total float64) float64 {
	rank := q * total
	cum := 0.0
	last := bounds.At(bounds.Len() - 1)
	for i, n := range counts {
		if n <= 0 {
			continue
		}
		if cum+n >= rank {
			if i >= bounds.Len() {
				return last
			}
			hi := bounds.At(i)
			lo := 0.0
			if i > 0 {
				lo = bounds.At(i - 1)
			}
			if hi <= lo {
				return hi
			}
			return lo + (hi-lo)*(rank-cum)/n
		}
		cum += n
	}
	return last
}

// failed reports whether a point's attributes mark failed requests.
func failed(rule errRule, attrs pcommon.Map) bool {
	_, bad := status(rule, attrs)
	return bad
}

// status reports whether a point carries a status attribute, and whether it is a failure.
func status(rule errRule, attrs pcommon.Map) (known, bad bool) {
	switch rule {
	case errHTTP:
		v, ok := attrs.Get("http.response.status_code")
		if !ok {
			v, ok = attrs.Get("http.status_code")
		}
		if !ok {
			return false, false
		}
		code, ok := intValue(v)
		return ok, ok && code >= 500
	case errRPC:
		if v, ok := attrs.Get("rpc.grpc.status_code"); ok {
			code, ok := intValue(v)
			return ok, ok && grpcServerError(code)
		}
		if v, ok := attrs.Get("rpc.response.status_code"); ok {
			if code, isInt := intValue(v); isInt {
				return true, grpcServerError(code)
			}
			switch v.Str() {
			case "UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS":
				return true, true
			}
			return true, false
		}
	case errSpan:
		if v, ok := attrs.Get("status.code"); ok {
			switch v.Str() {
			case "STATUS_CODE_ERROR", "Error", "ERROR":
				return true, true
			}
			return true, false
		}
		// spanmetrics with the spanmetrics.statusCodeConvention.useOtelPrefix gate: set for ERROR
		// and OK spans only.
		if v, ok := attrs.Get("otel.status_code"); ok {
			return true, v.Str() == "ERROR"
		}
	}
	return false, false
}

// grpcServerError reports the gRPC codes the semantic conventions count as server errors:
// UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS.
func grpcServerError(code int64) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

// intValue reads an integer attribute, also from a decimal string.
func intValue(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeDouble:
		return int64(v.Double()), true
	case pcommon.ValueTypeStr:
		s := v.Str()
		if s == "" || len(s) > 18 {
			return 0, false
		}
		var n int64
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int64(s[i]-'0')
		}
		return n, true
	}
	return 0, false
}
