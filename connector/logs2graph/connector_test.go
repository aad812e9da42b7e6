// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

// checkoutCall is frontend -> checkout (HTTP) -> payment (gRPC, optionally failing) of trace tr.
func checkoutCall(tr byte, at time.Duration, payErr bool) []span {
	return []span{
		{svc: "frontend", trace: tr, id: 1, kind: ptrace.SpanKindServer, at: at, dur: 100 * time.Millisecond},
		{svc: "frontend", trace: tr, id: 2, parent: 1, kind: ptrace.SpanKindClient, at: at + time.Millisecond, dur: 90 * time.Millisecond,
			attrs: map[string]string{"http.request.method": "POST", "server.address": "checkout"}},
		{svc: "checkout", trace: tr, id: 3, parent: 2, kind: ptrace.SpanKindServer, at: at + 2*time.Millisecond, dur: 80 * time.Millisecond},
		{svc: "checkout", trace: tr, id: 4, parent: 3, kind: ptrace.SpanKindClient, at: at + 3*time.Millisecond, dur: 30 * time.Millisecond, err: payErr,
			attrs: map[string]string{"rpc.system": "grpc", "rpc.service": "payment.Payment"}},
		{svc: "payment", trace: tr, id: 5, parent: 4, kind: ptrace.SpanKindServer, at: at + 4*time.Millisecond, dur: 20 * time.Millisecond, err: payErr},
	}
}

func TestLogsPassThroughUnchangedAndAttributed(t *testing.T) {
	p := newPipelines(t, createDefaultConfig().(*Config), nil, false)
	p.start(t, componenttest.NewNopHost())
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, true)...)))

	ld := plog.NewLogs()
	// payment logs an error inside the failing call: charged to checkout -> payment.
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payment")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second + 10*time.Millisecond)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetTraceID(traceID(1))
	lr.SetSpanID(spanID(1, 5))
	lr.Body().SetStr("card declined")
	// cart logs a call to redis (peer attributes, no trace context, severity text only).
	rl2 := ld.ResourceLogs().AppendEmpty()
	rl2.Resource().Attributes().PutStr("service.name", "cart")
	lr2 := rl2.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr2.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(2 * time.Second)))
	lr2.SetSeverityText("ERROR")
	lr2.Attributes().PutStr("db.system.name", "redis")
	lr2.Attributes().PutStr("server.address", "cache")
	lr2.Body().SetStr("redis timeout")
	want := plog.NewLogs()
	ld.CopyTo(want)

	require.NoError(t, p.logs.ConsumeLogs(context.Background(), ld))
	require.Len(t, p.pass.AllLogs(), 1, "records pass through synchronously")
	assert.Equal(t, want, p.pass.AllLogs()[0], "records pass through unchanged")
	assert.Zero(t, countEvents(p.edges, eventEdge), "no window closed yet")

	p.shutdown(t)
	got := totals(p.edges)
	assert.Equal(t, edgeSummary{client: "checkout", server: "payment", conn: "rpc", source: "both", calls: 1, errors: 1, logErrors: 1},
		got[[3]string{"checkout", "payment", "rpc"}])
	assert.Equal(t, edgeSummary{client: "cart", server: "cache", conn: "database", source: "logs", logErrors: 1},
		got[[3]string{"cart", "cache", "database"}])
	assert.Equal(t, 2, p.pass.LogRecordCount(), "edge records do not go to the pass-through output")
}

// TestLogsAheadOfTheirSpans: with a traces input, spans move event time and log records only join
// them. Payment's error record arrives 40 s before its trace (the logs pipeline runs ahead):
// it neither closes windows early nor expires before its span comes, and is charged to the
// span's edge as when it comes after it.
func TestLogsAheadOfTheirSpans(t *testing.T) {
	p := newPipelines(t, createDefaultConfig().(*Config), nil, false)
	p.start(t, componenttest.NewNopHost())
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	c := p.conn()
	c.mu.Lock()
	before := c.store.Watermark()
	c.mu.Unlock()

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payment")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(40*time.Second + 10*time.Millisecond)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetTraceID(traceID(2))
	lr.SetSpanID(spanID(2, 5))
	lr.Body().SetStr("card declined")
	require.NoError(t, p.logs.ConsumeLogs(context.Background(), ld))
	c.mu.Lock()
	assert.Equal(t, before, c.store.Watermark(), "log records do not move the event time of a connector with spans")
	c.mu.Unlock()

	// 25 s of traces (more than pending_ttl) before the record's own trace arrives
	for k := range 25 {
		require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(byte(10+k), time.Duration(12+k)*time.Second, false)...)))
	}
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(2, 40*time.Second, true)...)))
	p.shutdown(t)
	got := totals(p.edges)[[3]string{"checkout", "payment", "rpc"}]
	assert.Equal(t, int64(1), got.logErrors, "the early record is charged to its span's edge")
	assert.Equal(t, int64(1), got.errors)
}

func TestLogsOnlyDeploymentEmitsEdgesOnLogsOutput(t *testing.T) {
	f := newFactoryWith(clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	set := connectortest.NewNopSettings(metadata.Type)
	sink := new(consumertest.LogsSink)
	c, err := f.CreateLogsToLogs(context.Background(), set, createDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.Attributes().PutStr("url.full", "https://user:pw@billing.internal:8443/v1/charge?x=1")
	require.NoError(t, c.ConsumeLogs(context.Background(), ld))
	require.NoError(t, c.Shutdown(context.Background()))

	recs := records(sink)
	require.Len(t, recs, 4, "a progress record (the store's event time started), the input record, then at shutdown the edge record and a progress record")
	assert.Equal(t, eventProgress, recs[0].EventName())
	assert.Empty(t, recs[1].EventName())
	assert.Equal(t, eventEdge, recs[2].EventName())
	assert.Equal(t, edgeSummary{client: "api", server: "billing.internal", conn: "virtual", source: "logs"}, summarize(recs[2]))
	assert.Equal(t, eventProgress, recs[3].EventName())
	ends := progressEnds(sink)
	require.Len(t, ends, 2)
	assert.Less(t, ends[0], t0.UnixNano(), "before the record's window")
	assert.Equal(t, t0.Add(15*time.Second).UnixNano(), ends[1], "shutdown closes the current window")
}

func TestSharedGraphAcrossPipelines(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p := newPipelines(t, createDefaultConfig().(*Config), tel, true)
	require.Same(t, p.conn(), p.logs.(*logsConnector).c, "one graph per connector ID")
	require.Same(t, p.conn(), p.metrics.(*tracesConnector).c)
	p.start(t, componenttest.NewNopHost())

	// The collector sends the same traces to the traces -> logs and traces -> metrics instances;
	// the graph counts them once.
	td := makeTraces(checkoutCall(1, time.Second, false)...)
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.metrics.ConsumeTraces(context.Background(), td))
	// Shutting down one pipeline keeps the graph running for the others.
	require.NoError(t, p.metrics.Shutdown(context.Background()))
	require.NoError(t, p.logs.Shutdown(context.Background()))
	assert.Zero(t, countEvents(p.edges, eventEdge))
	require.NoError(t, p.traces.Shutdown(context.Background()))

	got := totals(p.edges)
	assert.Equal(t, int64(1), got[[3]string{"frontend", "checkout", "http"}].calls)
	assert.Equal(t, int64(1), got[[3]string{"checkout", "payment", "rpc"}].calls)
	assert.Equal(t, int64(1), got[[3]string{"user", "frontend", "virtual"}].calls)
	assert.Len(t, got, 3)
	assert.NotEmpty(t, p.mets.AllMetrics(), "metrics emitted at shutdown")
	metadatatest.AssertEqualConnectorLogs2graphSpansIn(t, tel, []metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorLogs2graphPairs(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	// the progress record of the first batch, then three edge records, three service records
	// and the progress record of the shutdown
	metadatatest.AssertEqualConnectorLogs2graphRecordsEmitted(t, tel, []metricdata.DataPoint[int64]{{Value: 8}}, metricdatatest.IgnoreTimestamp())
}

func TestMetricsOutput(t *testing.T) {
	p := newPipelines(t, createDefaultConfig().(*Config), nil, true)
	p.start(t, componenttest.NewNopHost())
	spans := checkoutCall(1, time.Second, true)
	spans = append(spans, checkoutCall(2, 2*time.Second, false)...)
	spans = append(spans,
		span{svc: "checkout", trace: 3, id: 1, kind: ptrace.SpanKindClient, at: 3 * time.Second, dur: 3 * time.Millisecond,
			attrs: map[string]string{"db.system": "postgresql", "db.name": "orders"}},
		span{svc: "checkout", trace: 4, id: 1, kind: ptrace.SpanKindProducer, at: 3 * time.Second, dur: time.Millisecond,
			attrs: map[string]string{"messaging.system": "kafka", "messaging.destination.name": "orders-topic"}},
		span{svc: "checkout", trace: 5, id: 1, kind: ptrace.SpanKindClient, at: 3 * time.Second, dur: time.Millisecond,
			attrs: map[string]string{"peer.service": "legacy"}},
	)
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(spans...)))
	p.shutdown(t)

	all := p.mets.AllMetrics()
	require.Len(t, all, 1)
	md := all[0]
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	name, _ := res.Get("service.name")
	assert.Equal(t, testID.String(), name.Str())
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	byName := map[string]pmetric.Metric{}
	for i := 0; i < ms.Len(); i++ {
		byName[ms.At(i).Name()] = ms.At(i)
	}
	require.Len(t, byName, 4)

	type key struct{ client, server, conn string }
	labels := func(a pcommon.Map) key {
		c, _ := a.Get("client")
		s, _ := a.Get("server")
		ct, _ := a.Get("connection_type")
		require.Equal(t, 3, a.Len())
		return key{c.Str(), s.Str(), ct.Str()}
	}
	total := byName[metricRequestTotal].Sum()
	assert.True(t, total.IsMonotonic())
	assert.Equal(t, pmetric.AggregationTemporalityCumulative, total.AggregationTemporality())
	calls := map[key]int64{}
	for i := 0; i < total.DataPoints().Len(); i++ {
		calls[labels(total.DataPoints().At(i).Attributes())] = total.DataPoints().At(i).IntValue()
	}
	assert.Equal(t, map[key]int64{
		{"user", "frontend", "virtual_node"}:             2,
		{"frontend", "checkout", ""}:                     2,
		{"checkout", "payment", ""}:                      2,
		{"checkout", "orders", "database"}:               1,
		{"checkout", "orders-topic", "messaging_system"}: 1,
		{"checkout", "legacy", "virtual_node"}:           1,
	}, calls)
	failed := byName[metricRequestFailed].Sum()
	for i := 0; i < failed.DataPoints().Len(); i++ {
		dp := failed.DataPoints().At(i)
		want := int64(0)
		if labels(dp.Attributes()) == (key{"checkout", "payment", ""}) {
			want = 1
		}
		assert.Equal(t, want, dp.IntValue())
	}
	server := byName[metricServerSeconds].Histogram()
	assert.Equal(t, pmetric.AggregationTemporalityCumulative, server.AggregationTemporality())
	for i := 0; i < server.DataPoints().Len(); i++ {
		dp := server.DataPoints().At(i)
		if labels(dp.Attributes()) == (key{"checkout", "payment", ""}) {
			assert.Equal(t, uint64(2), dp.Count())
			assert.InDelta(t, 0.04, dp.Sum(), 1e-9)
			assert.Equal(t, graph.DefaultLatencyBuckets(), dp.ExplicitBounds().AsRaw())
			assert.Equal(t, dp.ExplicitBounds().Len()+1, dp.BucketCounts().Len())
		}
	}
	client := byName[metricClientSeconds].Histogram()
	assert.Positive(t, client.DataPoints().Len())
	for i := 0; i < client.DataPoints().Len(); i++ {
		assert.NotEqual(t, "user", labels(client.DataPoints().At(i).Attributes()).client, "the user node has no client spans")
	}
}

func TestFlushLoopEmitsClosedWindowsAndIdleAdvance(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.IdleAdvance = 10 * time.Second
	p := newPipelines(t, cfg, nil, false)
	p.start(t, componenttest.NewNopHost())
	t.Cleanup(func() { p.shutdown(t) })
	require.NoError(t, p.clock.BlockUntilContext(context.Background(), 1))

	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	// The first batch starts event time: a progress record says that the windows before it are
	// complete (there were none).
	require.Len(t, noServices(p.edges), 1)
	require.Equal(t, eventProgress, noServices(p.edges)[0].EventName())
	assert.Less(t, progressEnds(p.edges)[0], t0.UnixNano())
	// Calls 40 s later in event time close the first window [0, 15 s) (end + lateness <= 40 s),
	// in the same call: no tick is needed.
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(2, 40*time.Second, false)...)))
	require.Len(t, noServices(p.edges), 5)
	assert.Equal(t, 3, countEvents(p.edges, eventService), "the own time of frontend, checkout and payment in the window")
	recs := noServices(p.edges)[1:]
	for _, lr := range recs[:3] {
		assert.Equal(t, eventEdge, lr.EventName())
		start, _ := lr.Attributes().Get(attrWindowStart)
		assert.Equal(t, t0.UnixNano(), start.Int())
		assert.Equal(t, pcommon.NewTimestampFromTime(t0.Add(15*time.Second)), lr.Timestamp())
	}
	// After the edge records of the flush: every window ending at or before 15 s is complete.
	assert.Equal(t, eventProgress, recs[3].EventName())
	assert.Equal(t, pcommon.NewTimestampFromTime(t0.Add(15*time.Second)), recs[3].Timestamp())
	start, _ := recs[3].Attributes().Get(attrWindowStart)
	assert.Equal(t, t0.UnixNano(), start.Int(), "the progress record carries the last closed window's start")
	assert.Equal(t, t0.Add(15*time.Second).UnixNano(), progressEnds(p.edges)[1])
	p.tickOnce(t)
	assert.Len(t, noServices(p.edges), 5, "a tick emits nothing more while the input is not idle")

	// The input stops. After idle_advance of wall clock, event time follows the wall clock: the
	// empty window [15 s, 30 s) closes (a progress record alone), then the window of the second
	// call ([30 s, 45 s), closing at 60 s).
	for i := 0; i < 9; i++ {
		p.tickOnce(t)
	}
	assert.Len(t, noServices(p.edges), 5, "not idle long enough")
	for i := 0; countEvents(p.edges, eventEdge) == 3 && i < 100; i++ {
		p.tickOnce(t)
	}
	require.Len(t, noServices(p.edges), 10)
	recs = noServices(p.edges)[1:]
	assert.Equal(t, eventProgress, recs[4].EventName())
	start, _ = recs[5].Attributes().Get(attrWindowStart)
	assert.Equal(t, t0.Add(30*time.Second).UnixNano(), start.Int())
	assert.Equal(t, eventProgress, recs[8].EventName())
	assert.Equal(t, []int64{
		t0.Add(15 * time.Second).UnixNano(), t0.Add(30 * time.Second).UnixNano(), t0.Add(45 * time.Second).UnixNano(),
	}, progressEnds(p.edges)[1:], "one progress record per advance, none without one")
}

func TestSnapshotRecords(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SnapshotInterval = time.Minute
	cfg.IdleAdvance = 0
	p := newPipelines(t, cfg, nil, false)
	p.start(t, componenttest.NewNopHost())
	t.Cleanup(func() { p.shutdown(t) })
	require.NoError(t, p.clock.BlockUntilContext(context.Background(), 2))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(2, 2*time.Second, true)...)))
	p.clock.Advance(time.Minute)
	require.Eventually(t, func() bool { return countEvents(p.edges, eventSnapshot) > 0 }, 5*time.Second, time.Millisecond)
	recs := records(p.edges)
	byEdge := map[[3]string]edgeSummary{}
	for _, lr := range recs {
		if lr.EventName() == eventProgress {
			continue // the flush loop ran too
		}
		require.Equal(t, eventSnapshot, lr.EventName())
		ev, _ := lr.Attributes().Get(attrEventName)
		assert.Equal(t, eventSnapshot, ev.Str())
		_, ok := lr.Attributes().Get(attrLastSeen)
		assert.True(t, ok)
		s := summarize(lr)
		byEdge[[3]string{s.client, s.server, s.conn}] = s
	}
	// Cumulative, although no window has closed. Pending client halves are not counted yet.
	assert.Equal(t, int64(2), byEdge[[3]string{"frontend", "checkout", "http"}].calls)
	assert.Equal(t, int64(1), byEdge[[3]string{"checkout", "payment", "rpc"}].errors)
}

func TestPersistenceRoundTrip(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	store := storagetest.NewMemStorage()
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID

	p1 := newPipelines(t, cfg, nil, false)
	p1.start(t, host)
	require.NoError(t, p1.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, true)...)))
	p1.shutdown(t)
	require.NotEmpty(t, store.Value(snapshotKey), "shutdown saves the graph")

	// A new instance restores the edges: its metrics are cumulative across the restart.
	p2 := newPipelines(t, cfg, nil, true)
	p2.start(t, host)
	assert.Equal(t, 3, int(p2.conn().edges.Load()))
	require.NoError(t, p2.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(2, time.Minute, false)...)))
	p2.shutdown(t)
	md := p2.mets.AllMetrics()[0]
	sum := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum()
	for i := 0; i < sum.DataPoints().Len(); i++ {
		assert.Equal(t, int64(2), sum.DataPoints().At(i).IntValue())
	}
	assert.Equal(t, 3, sum.DataPoints().Len())
}

func TestCorruptSnapshotStartsFresh(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	store := storagetest.NewStorageWith(snapshotKey, "definitely not a graph")
	host := storagetest.Host(map[component.ID]component.Component{storageID: store})
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	p := newPipelines(t, cfg, tel, false)
	p.start(t, host)
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	p.shutdown(t)
	assert.Equal(t, 3, countEvents(p.edges, eventEdge))
	metadatatest.AssertEqualConnectorLogs2graphStorageErrors(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("operation", "load"))},
	}, metricdatatest.IgnoreTimestamp())
	st, err := graph.New(cfg.graphConfig())
	require.NoError(t, err)
	require.NoError(t, st.UnmarshalBinary(store.Value(snapshotKey)), "a good snapshot replaces the corrupt one")
}

func TestStorageErrors(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID

	failing := storagetest.NewFailingStorage()
	p := newPipelines(t, cfg, nil, false)
	p.start(t, storagetest.Host(map[component.ID]component.Component{storageID: failing}))
	p.shutdown(t)

	c, err := newFactoryWith(nil).CreateTracesToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.ErrorIs(t, c.Start(context.Background(), componenttest.NewNopHost()), storageutil.ErrNotFound)
	require.NoError(t, c.Shutdown(context.Background()))

	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	c2, err := newFactoryWith(nil).CreateTracesToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.ErrorIs(t, c2.Start(context.Background(), storagetest.Host(map[component.ID]component.Component{storageID: notStorage})), storageutil.ErrNotStorage)
	require.NoError(t, c2.Shutdown(context.Background()))
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	p := newPipelines(t, createDefaultConfig().(*Config), nil, true)
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	p.shutdown(t)
	n := p.edges.LogRecordCount()
	p.shutdown(t)
	assert.Equal(t, 3, countEvents(p.edges, eventEdge), "data is flushed even without Start")
	assert.Equal(t, n, p.edges.LogRecordCount(), "a second shutdown emits nothing")
}

func TestDownstreamErrorIsCounted(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	f := newFactoryWith(clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	set := metadatatest.NewSettings(tel)
	c, err := f.CreateTracesToLogs(context.Background(), set, createDefaultConfig(), consumertest.NewErr(errors.New("backend down")))
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, c.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Second, false)...)))
	require.NoError(t, c.Shutdown(context.Background()))
	metadatatest.AssertEqualConnectorLogs2graphDropped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 8, Attributes: attribute.NewSet(attribute.String("reason", "downstream_error"))}, // 3 edges, 3 services, 2 progress
	}, metricdatatest.IgnoreTimestamp())
}

func TestBadInputNeverPanicsAndIsCounted(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p := newPipelines(t, createDefaultConfig().(*Config), tel, true)
	p.start(t, componenttest.NewNopHost())

	require.NoError(t, p.traces.ConsumeTraces(context.Background(), ptrace.NewTraces()))
	require.NoError(t, p.logs.ConsumeLogs(context.Background(), plog.NewLogs()))
	empty := ptrace.NewTraces()
	empty.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), empty))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(
		span{svc: "", trace: 1, id: 1, kind: ptrace.SpanKindServer, at: time.Second, dur: time.Millisecond},             // missing service
		span{svc: "a", trace: 2, id: 0, kind: ptrace.SpanKindServer, at: time.Second, dur: time.Millisecond},            // zero ids
		span{svc: "b", trace: 3, id: 1, kind: ptrace.SpanKindServer, dur: -1},                                           // no timestamps
		span{svc: "c", trace: 4, id: 1, kind: ptrace.SpanKindClient, at: time.Second, dur: time.Millisecond},            // self call (pair)
		span{svc: "c", trace: 4, id: 2, parent: 1, kind: ptrace.SpanKindServer, at: time.Second, dur: time.Millisecond}, // ...
		span{svc: "d", trace: 5, id: 1, kind: ptrace.SpanKindClient, at: time.Second, dur: time.Millisecond, // self call (peer)
			attrs: map[string]string{"peer.service": "d"}},
	)))
	// Non-string attributes, odd URLs, a timestamp beyond int64.
	td := makeTraces(span{svc: "e", trace: 6, id: 1, kind: ptrace.SpanKindClient, at: time.Second, dur: time.Millisecond,
		attrs: map[string]string{"url.full": "not a url"}})
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.Attributes().PutInt("peer.service", 7)
	sp2 := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	sp2.SetTraceID(traceID(7))
	sp2.SetSpanID(spanID(7, 1))
	sp2.SetStartTimestamp(1)
	sp2.SetEndTimestamp(pcommon.Timestamp(^uint64(0)))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.logs.ConsumeLogs(context.Background(), func() plog.Logs {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		lrs.AppendEmpty().SetTimestamp(1) // no service
		return ld
	}()))
	p.shutdown(t)

	dropped := map[string]int64{}
	for _, dp := range droppedPoints(t, tel) {
		r, _ := dp.Attributes.Value("reason")
		dropped[r.AsString()] = dp.Value
	}
	assert.Equal(t, int64(2), dropped["missing_service"], "a span and a log")
	assert.Equal(t, int64(1), dropped["invalid_id"])
	assert.Equal(t, int64(2), dropped["missing_time"], "no timestamps, and a timestamp beyond int64")
	assert.Equal(t, int64(2), dropped["self_call"])
	metadatatest.AssertEqualConnectorLogs2graphSpansIn(t, tel, []metricdata.DataPoint[int64]{{Value: 8}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorLogs2graphLogRecordsIn(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func droppedPoints(t *testing.T, tel *componenttest.Telemetry) []metricdata.DataPoint[int64] {
	t.Helper()
	m, err := tel.GetMetric("otelcol_connector_logs2graph_dropped")
	require.NoError(t, err)
	return m.Data.(metricdata.Sum[int64]).DataPoints
}

func TestPeerOf(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  graph.Peer
	}{
		{"none", nil, graph.Peer{}},
		{"peer.service first", map[string]string{"peer.service": "p", "server.address": "s"}, graph.Peer{Name: "p"}},
		{"http", map[string]string{"http.request.method": "GET", "url.full": "https://api.example.com:443/x"}, graph.Peer{Name: "api.example.com", Kind: graph.PeerHTTP}},
		{"old http", map[string]string{"http.method": "GET", "http.url": "http://[::1]:80/"}, graph.Peer{Name: "::1", Kind: graph.PeerHTTP}},
		{"db", map[string]string{"db.system.name": "postgresql", "db.namespace": "orders"}, graph.Peer{Name: "orders", Kind: graph.PeerDatabase, System: "postgresql"}},
		{"db without name", map[string]string{"db.system": "redis"}, graph.Peer{Kind: graph.PeerDatabase, System: "redis"}},
		{"messaging", map[string]string{"messaging.system": "kafka", "messaging.destination.name": "t"}, graph.Peer{Name: "t", Kind: graph.PeerMessaging, System: "kafka"}},
		{"rpc", map[string]string{"rpc.system": "grpc", "rpc.service": "pkg.Svc"}, graph.Peer{Name: "pkg.Svc", Kind: graph.PeerRPC, System: "grpc"}},
		{"net.peer.name", map[string]string{"net.peer.name": "legacy"}, graph.Peer{Name: "legacy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pcommon.NewMap()
			for k, v := range tt.attrs {
				m.PutStr(k, v)
			}
			assert.Equal(t, tt.want, graphpdata.PeerOf(m))
		})
	}
	assert.Empty(t, graphpdata.URLHost("relative/path"))
	assert.Empty(t, graphpdata.URLHost("http://[::1"))
	assert.Equal(t, "h", graphpdata.URLHost("http://h#frag"))
}
