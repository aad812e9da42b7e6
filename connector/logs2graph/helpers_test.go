// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadatatest"
)

// t0 is the event time of the test data (the golden input starts here).
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// testID is the connector ID of the tests (the resource service.name of the edge records).
var testID = component.MustNewIDWithName("logs2graph", "test")

// pipelines are the three instances of one connector ID, with their sinks.
type pipelines struct {
	traces  connector.Traces // traces -> logs
	logs    connector.Logs   // logs -> logs
	metrics connector.Traces // traces -> metrics (nil unless asked for)
	edges   *consumertest.LogsSink
	pass    *consumertest.LogsSink
	mets    *consumertest.MetricsSink
	clock   *clockwork.FakeClock
}

// newPipelines creates the traces -> logs and logs -> logs instances (and traces -> metrics
// when withMetrics) of one connector ID from one factory, with a fake wall clock an hour after
// t0.
func newPipelines(t *testing.T, cfg *Config, tel *componenttest.Telemetry, withMetrics bool) *pipelines {
	t.Helper()
	return newPipelinesWith(t, cfg, tel, withMetrics, nil)
}

// newPipelinesWithLogger is newPipelines (no metrics output) with the connector's logger.
func newPipelinesWithLogger(t *testing.T, cfg *Config, logger *zap.Logger) *pipelines {
	t.Helper()
	return newPipelinesWith(t, cfg, nil, false, logger)
}

func newPipelinesWith(t *testing.T, cfg *Config, tel *componenttest.Telemetry, withMetrics bool, logger *zap.Logger) *pipelines {
	t.Helper()
	p := &pipelines{
		edges: new(consumertest.LogsSink),
		pass:  new(consumertest.LogsSink),
		mets:  new(consumertest.MetricsSink),
		clock: clockwork.NewFakeClockAt(t0.Add(time.Hour)),
	}
	f := newFactoryWith(p.clock)
	set := connectortest.NewNopSettings(metadata.Type)
	if tel != nil {
		set = metadatatest.NewSettings(tel)
	}
	set.ID = testID
	if logger != nil {
		set.Logger = logger
	}
	var err error
	p.traces, err = f.CreateTracesToLogs(context.Background(), set, cfg, p.edges)
	require.NoError(t, err)
	p.logs, err = f.CreateLogsToLogs(context.Background(), set, cfg, p.pass)
	require.NoError(t, err)
	if withMetrics {
		p.metrics, err = f.CreateTracesToMetrics(context.Background(), set, cfg, p.mets)
		require.NoError(t, err)
	}
	return p
}

func (p *pipelines) start(t *testing.T, host component.Host) {
	t.Helper()
	require.NoError(t, p.traces.Start(context.Background(), host))
	require.NoError(t, p.logs.Start(context.Background(), host))
	if p.metrics != nil {
		require.NoError(t, p.metrics.Start(context.Background(), host))
	}
}

func (p *pipelines) shutdown(t *testing.T) {
	t.Helper()
	require.NoError(t, p.traces.Shutdown(context.Background()))
	require.NoError(t, p.logs.Shutdown(context.Background()))
	if p.metrics != nil {
		require.NoError(t, p.metrics.Shutdown(context.Background()))
	}
}

func (p *pipelines) conn() *graphConnector { return p.traces.(*tracesConnector).c }

// tickOnce advances the fake wall clock by one second and waits until the flush loop has
// handled that tick (emission included), so that every tick sees one second of wall clock.
func (p *pipelines) tickOnce(t *testing.T) {
	t.Helper()
	c := p.conn()
	done := c.ticks.Load()
	require.NoError(t, p.clock.BlockUntilContext(context.Background(), 1))
	p.clock.Advance(time.Second)
	require.Eventually(t, func() bool { return c.ticks.Load() > done }, 5*time.Second, time.Millisecond)
}

// records returns every log record the sink received, in order.
func records(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

// merged puts every record of the sink, in order, under the resource and scope of the first
// one (the connector emits every record under the same resource and scope).
func merged(sink *consumertest.LogsSink) plog.Logs {
	out := plog.NewLogs()
	recs := records(sink)
	if len(recs) == 0 {
		return out
	}
	first := sink.AllLogs()[0].ResourceLogs().At(0)
	rl := out.ResourceLogs().AppendEmpty()
	first.Resource().CopyTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	first.ScopeLogs().At(0).Scope().CopyTo(sl.Scope())
	for _, lr := range recs {
		lr.CopyTo(sl.LogRecords().AppendEmpty())
	}
	return out
}

// noServices returns the records of the sink, in order, without the logs2graph.service ones.
func noServices(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, lr := range records(sink) {
		if lr.EventName() != eventService {
			out = append(out, lr)
		}
	}
	return out
}

// countEvents returns how many records of the sink have the event name.
func countEvents(sink *consumertest.LogsSink, event string) int {
	n := 0
	for _, lr := range records(sink) {
		if lr.EventName() == event {
			n++
		}
	}
	return n
}

// progressEnds returns the graph.window.end of every progress record of the sink, in order.
func progressEnds(sink *consumertest.LogsSink) []int64 {
	var out []int64
	for _, lr := range records(sink) {
		if lr.EventName() == eventProgress {
			v, _ := lr.Attributes().Get(attrWindowEnd)
			out = append(out, v.Int())
		}
	}
	return out
}

type edgeSummary struct {
	client, server, conn, source string
	calls, errors, logErrors     int64
}

func summarize(lr plog.LogRecord) edgeSummary {
	a := lr.Attributes()
	get := func(k string) pcommon.Value { v, _ := a.Get(k); return v }
	return edgeSummary{
		client: get(attrClient).Str(), server: get(attrServer).Str(), conn: get(attrConnType).Str(),
		source: get(attrSource).Str(), calls: get(attrCalls).Int(), errors: get(attrErrors).Int(),
		logErrors: get(attrLogErrors).Int(),
	}
}

// totals sums the edge records of a sink per (client, server, connection type).
func totals(sink *consumertest.LogsSink) map[[3]string]edgeSummary {
	out := map[[3]string]edgeSummary{}
	for _, lr := range records(sink) {
		if lr.EventName() != eventEdge {
			continue
		}
		s := summarize(lr)
		k := [3]string{s.client, s.server, s.conn}
		cur := out[k]
		cur.client, cur.server, cur.conn = s.client, s.server, s.conn
		cur.calls += s.calls
		cur.errors += s.errors
		cur.logErrors += s.logErrors
		if cur.source == "" || cur.source == s.source {
			cur.source = s.source
		} else {
			cur.source = "both"
		}
		out[k] = cur
	}
	return out
}

// span is a compact description of a test span.
type span struct {
	svc        string
	trace      byte
	id, parent byte
	kind       ptrace.SpanKind
	at         time.Duration // start, from t0
	dur        time.Duration
	err        bool
	attrs      map[string]string
}

func traceID(tr byte) pcommon.TraceID {
	return pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, tr}
}

func spanID(tr, id byte) pcommon.SpanID { return pcommon.SpanID{1, 2, 3, 4, 5, 6, tr, id} }

// makeTraces builds one ResourceSpans per service, in order of first appearance.
func makeTraces(spans ...span) ptrace.Traces {
	td := ptrace.NewTraces()
	bySvc := map[string]ptrace.SpanSlice{}
	for _, s := range spans {
		ss, ok := bySvc[s.svc]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			if s.svc != "" {
				rs.Resource().Attributes().PutStr("service.name", s.svc)
			}
			ss = rs.ScopeSpans().AppendEmpty().Spans()
			bySvc[s.svc] = ss
		}
		sp := ss.AppendEmpty()
		sp.SetName("op")
		if s.id != 0 {
			sp.SetTraceID(traceID(s.trace))
			sp.SetSpanID(spanID(s.trace, s.id))
		}
		if s.parent != 0 {
			sp.SetParentSpanID(spanID(s.trace, s.parent))
		}
		sp.SetKind(s.kind)
		if s.dur >= 0 {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.at)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.at + s.dur)))
		}
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		for k, v := range s.attrs {
			sp.Attributes().PutStr(k, v)
		}
	}
	return td
}
