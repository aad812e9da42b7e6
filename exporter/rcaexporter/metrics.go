// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"cmp"
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
	"github.com/otelcol-aiops/otelcol-aiops/internal/metricspdata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
	"github.com/otelcol-aiops/otelcol-aiops/internal/sharedcomponent"
)

// exporters holds one rcaExporter per component ID, shared by its logs and metrics instances:
// the collector creates one per signal, and both must feed the same engine.
var exporters = sharedcomponent.NewMap[component.ID, *rcaExporter]()

// logsExporter and metricsExporter are the per-signal faces of a shared rcaExporter.
type logsExporter struct {
	*sharedcomponent.Component[*rcaExporter]
}

func (l logsExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (l logsExporter) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return l.Unwrap().ConsumeLogs(ctx, ld)
}

type metricsExporter struct {
	*sharedcomponent.Component[*rcaExporter]
}

func (m metricsExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (m metricsExporter) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return m.Unwrap().ConsumeMetrics(ctx, md)
}

// metricsInput turns OTLP metrics into samples (metricspdata) and judges them against each
// service's own history (metricsig). The samples wait in the sequencer with the rest of the
// evidence and reach the detector in event-time order, so its evidence does not depend on how
// metrics and logs interleave. Guarded by rcaExporter.mu.
type metricsInput struct {
	conv    *metricspdata.Converter
	det     *metricsig.Detector
	buf     []metricsig.Sample
	one     [1]metricsig.Sample
	lastCnv metricspdata.Stats
	lastDet metricsig.Stats
}

func newMetricsInput() (*metricsInput, error) {
	conv, err := metricspdata.New(metricspdata.DefaultConfig())
	if err != nil {
		return nil, err
	}
	det, err := metricsig.New(metricsig.DefaultConfig())
	if err != nil {
		return nil, err
	}
	return &metricsInput{conv: conv, det: det}, nil
}

// read converts md into sample evidence. Samples show their service's progress like log
// records; their strings are copied, since they wait beyond the request.
func (m *metricsInput) read(in *batchInput, md pmetric.Metrics, clk *eventtime.Clock, wall int64) {
	m.buf = m.conv.Append(m.buf[:0], md)
	latest := map[string]int64{}
	for i := range m.buf {
		s := m.buf[i]
		t, fix := clk.Stamp(s.Time, 0, wall)
		in.fixes[fix]++
		s.Time = t
		s.Service, s.Pod, s.Container = strings.Clone(s.Service), strings.Clone(s.Pod), strings.Clone(s.Container)
		in.evidence = append(in.evidence, evidence{t: t, metric: true, ms: s})
		in.maxTime = max(in.maxTime, t)
		if s.Service != "" && t > latest[s.Service] {
			latest[s.Service] = t
		}
	}
	for svc, t := range latest {
		in.logs = append(in.logs, progress{svc, t})
	}
	clear(m.buf)
}

// apply feeds one sample to the detector and places the evidence it yields.
func (m *metricsInput) apply(engine *rca.Engine, s metricsig.Sample) {
	m.one[0] = s
	for _, ev := range m.det.Add(m.one[:]) {
		engine.AddAnomaly(rca.Anomaly{Service: ev.Service, Time: ev.Time, Score: ev.Score, Type: ev.Type, Line: ev.Reason})
	}
	m.one[0] = metricsig.Sample{}
}

// compareSamples orders samples of one time whatever their arrival order.
func compareSamples(a, b *metricsig.Sample) int {
	return cmp.Or(strings.Compare(a.Service, b.Service), cmp.Compare(a.Signal, b.Signal), strings.Compare(a.Pod, b.Pod),
		strings.Compare(a.Container, b.Container), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Count, b.Count))
}

// recordStats turns the converter's and the detector's drop counters into telemetry deltas.
func (m *metricsInput) recordStats(ctx context.Context, e *rcaExporter) {
	c, d := m.conv.Stats(), m.det.Stats()
	for _, x := range []struct {
		reason    string
		now, then uint64
	}{
		{"not_recognised", c.Ignored, m.lastCnv.Ignored},
		{"no_service", c.NoService, m.lastCnv.NoService},
		{"invalid", c.Invalid + d.Invalid, m.lastCnv.Invalid + m.lastDet.Invalid},
		{"out_of_order", c.OutOfOrder, m.lastCnv.OutOfOrder},
		{"series_full", c.DroppedSeries + d.DroppedSeries, m.lastCnv.DroppedSeries + m.lastDet.DroppedSeries},
		{"instances_full", d.DroppedInstances, m.lastDet.DroppedInstances},
		{"late", d.Late, m.lastDet.Late},
		{"future", d.Future, m.lastDet.Future},
	} {
		if x.now > x.then {
			e.tb.ExporterRcaMetricPointsDropped.Add(ctx, int64(x.now-x.then), metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", x.reason))))
		}
	}
	m.lastCnv, m.lastDet = c, d
}

// ConsumeMetrics takes service and pod metrics in (see docs/metrics.md): their samples wait in
// event-time order with the logs' evidence, then each service's signals are judged against its
// own history; a change is an anomaly of the service (metric_cpu, metric_memory, ...).
func (e *rcaExporter) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	e.tb.ExporterRcaMetricPointsIn.Add(ctx, int64(md.DataPointCount()))
	start := time.Now()
	e.mu.Lock()
	now := e.clock.Now()
	var in batchInput
	e.metrics.read(&in, md, e.evclock, now.UnixNano())
	e.seq.add(&in)
	changed := e.seq.process()
	e.lastInput = now
	e.metrics.recordStats(ctx, e)
	e.recordStatsLocked(ctx)
	edges, wm := e.takeEdgesLocked(), e.engine.Watermark()
	e.mu.Unlock()
	e.tb.ExporterRcaRankingDuration.Record(ctx, time.Since(start).Seconds())
	e.indexBatch(&batchInput{}, edges, wm)
	e.forward(ctx, changed)
	return nil
}
