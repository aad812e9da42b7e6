// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

// The minimal case of issue 11 through the connector: one request holds a's CLIENT span, an
// unrelated 40 s root SERVER span of x, then b's SERVER child of a's span, 1 ms apart.
func TestLongSpanInARequest(t *testing.T) {
	client := func(kind ptrace.SpanKind) span {
		return span{svc: "a", trace: 1, id: 1, kind: kind, at: 0, dur: 5 * time.Millisecond,
			attrs: map[string]string{"http.request.method": "GET", "server.address": "b"}}
	}
	long := func(kind ptrace.SpanKind) span {
		return span{svc: "x", trace: 2, id: 1, kind: kind, at: time.Millisecond, dur: 40 * time.Second}
	}
	server := func(kind ptrace.SpanKind) span {
		return span{svc: "b", trace: 1, id: 2, parent: 1, kind: kind, at: 2 * time.Millisecond, dur: 2 * time.Millisecond}
	}
	cl, sv, un := ptrace.SpanKindClient, ptrace.SpanKindServer, ptrace.SpanKindUnspecified
	kinded := map[[3]string]edgeSummary{
		{"a", "b", "http"}:       {client: "a", server: "b", conn: "http", source: "traces", calls: 1},
		{"user", "x", "virtual"}: {client: "user", server: "x", conn: "virtual", source: "traces", calls: 1},
	}
	// Kind-less roots that name no peer (server.address alone does not make a kind-less span a
	// client) are requests from outside: a's and x's.
	kindless := map[[3]string]edgeSummary{
		{"a", "b", "inferred"}:   {client: "a", server: "b", conn: "inferred", source: "traces", calls: 1},
		{"user", "a", "virtual"}: {client: "user", server: "a", conn: "virtual", source: "traces", calls: 1},
		{"user", "x", "virtual"}: {client: "user", server: "x", conn: "virtual", source: "traces", calls: 1},
	}
	tests := []struct {
		name     string
		requests [][]span
		want     map[[3]string]edgeSummary
	}{
		{"one request", [][]span{{client(cl), long(sv), server(sv)}}, kinded},
		{"kind-less spans", [][]span{{client(un), long(un), server(un)}}, kindless},
		{"b's span in the next request", [][]span{{client(cl), long(sv)}, {server(sv)}}, kinded},
		{"kind-less, b's span in the next request", [][]span{{client(un), long(un)}, {server(un)}}, kindless},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.IdleAdvance = 0
			p := newPipelines(t, cfg, nil, false)
			for _, r := range tt.requests {
				require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(r...)))
				p.conn().tick(context.Background())
			}
			p.shutdown(t)
			assert.Equal(t, tt.want, totals(p.edges))
		})
	}
}

// shiftSpan moves the span of svc with span id byte id in td by d.
func shiftSpan(td ptrace.Traces, svc string, id byte, d time.Duration) {
	for _, rs := range td.ResourceSpans().All() {
		if v, _ := rs.Resource().Attributes().Get("service.name"); v.Str() != svc {
			continue
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				if sp.SpanID()[7] == id {
					sp.SetStartTimestamp(sp.StartTimestamp() + pcommon.Timestamp(d))
					sp.SetEndTimestamp(sp.EndTimestamp() + pcommon.Timestamp(d))
				}
			}
		}
	}
}

type windowEdge struct {
	start                int64
	client, server, conn string
}

type windowValues struct {
	calls, errors      int64
	p95, client, serve float64
}

// runLive plays 90 requests, one per second of event time, each consumed 700 ms after its calls
// began on a wall clock that follows them, with a flush after each. It returns every edge record
// by window and the progress records.
func runLive(t *testing.T, tel *componenttest.Telemetry, skew func(k int, td ptrace.Traces)) (map[windowEdge]windowValues, []int64) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.IdleAdvance = 0
	p := newPipelines(t, cfg, tel, false) // the wall clock starts at t0 + 1 h
	base := time.Hour
	p.clock.Advance(900 * time.Millisecond)
	for k := range 90 {
		td := makeTraces(checkoutCall(byte(k+1), base+time.Duration(k)*time.Second+200*time.Millisecond, k%6 == 0)...)
		if skew != nil {
			skew(k, td)
		}
		require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))
		p.conn().tick(context.Background())
		p.clock.Advance(time.Second)
	}
	p.shutdown(t)
	out := map[windowEdge]windowValues{}
	for _, lr := range records(p.edges) {
		if lr.EventName() != eventEdge {
			continue
		}
		s := summarize(lr)
		a := lr.Attributes()
		start, _ := a.Get(attrWindowStart)
		p95, _ := a.Get(attrP95)
		cp, _ := a.Get(attrClientP95)
		sp, _ := a.Get(attrServerP95)
		out[windowEdge{start.Int(), s.client, s.server, s.conn}] = windowValues{s.calls, s.errors, p95.Double(), cp.Double(), sp.Double()}
	}
	return out, progressEnds(p.edges)
}

// Several services warmed up, one span of one service stamped 10 minutes ahead and one 80 years
// ahead, then normal traffic: windows still close on time and no edge is lost or moved.
func TestSkewedSpansThroughTheConnector(t *testing.T) {
	want, wantProgress := runLive(t, nil, nil)
	require.Len(t, want, 6*3, "3 edges in 6 windows")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	got, gotProgress := runLive(t, tel, func(k int, td ptrace.Traces) {
		switch k {
		case 35: // payment's SERVER span from a clock 10 minutes ahead
			shiftSpan(td, "payment", 5, 10*time.Minute)
		case 52: // checkout's SERVER span 80 years ahead
			shiftSpan(td, "checkout", 3, 80*365*24*time.Hour)
		}
	})
	assert.Equal(t, wantProgress, gotProgress, "windows close on time")
	assert.Equal(t, want, got, "no edge lost or moved, latencies kept")
	metadatatest.AssertEqualConnectorLogs2graphTimestampsFixed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "clock_ahead"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "impossible_timestamp"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestSkewedLogRecordsAreReStamped(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	// A logs-only connector: there, log records move event time.
	clk := clockwork.NewFakeClockAt(t0.Add(time.Hour))
	set := metadatatest.NewSettings(tel)
	set.ID = testID
	out := new(consumertest.LogsSink)
	lc, err := newFactoryWith(clk).CreateLogsToLogs(context.Background(), set, createDefaultConfig(), out)
	require.NoError(t, err)
	require.NoError(t, lc.Start(context.Background(), componenttest.NewNopHost()))
	now := clk.Now()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	ahead := lrs.AppendEmpty() // a host clock 2 hours ahead; the collector observed it now
	ahead.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(2 * time.Hour)))
	ahead.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
	ahead.Attributes().PutStr("peer.service", "billing")
	future := lrs.AppendEmpty() // 80 years ahead, no observed time
	future.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(80 * 365 * 24 * time.Hour)))
	future.Attributes().PutStr("peer.service", "billing")
	require.NoError(t, lc.ConsumeLogs(context.Background(), ld))
	c := lc.(*logsConnector).c
	c.mu.Lock()
	wm := c.store.Watermark()
	c.mu.Unlock()
	assert.Equal(t, now.UnixNano(), wm, "event time stays at the wall clock")
	require.NoError(t, lc.Shutdown(context.Background()))
	assert.Equal(t, map[[3]string]edgeSummary{{"api", "billing", "virtual"}: {client: "api", server: "billing", conn: "virtual", source: "logs"}},
		totals(out), "both records count, in the window of the wall clock")
	assert.Equal(t, []int64{
		now.Truncate(15 * time.Second).Add(-15 * time.Second).UnixNano(), // the batch: windows before it are complete
		now.Truncate(15 * time.Second).Add(15 * time.Second).UnixNano(),  // shutdown: the wall clock's window
	}, progressEnds(out))
	metadatatest.AssertEqualConnectorLogs2graphTimestampsFixed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "clock_ahead"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "impossible_timestamp"))},
	}, metricdatatest.IgnoreTimestamp())
}

// A snapshot saved with an event time far ahead of the wall clock (a poisoned clock) restores
// its edges but not its event time, so the next run's windows close.
func TestPoisonedSnapshotClockIsNotRestored(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.IdleAdvance = 0

	// A snapshot of a store whose event time is a day ahead of the wall clock (t0 + 1 h).
	st, err := graph.New(cfg.graphConfig())
	require.NoError(t, err)
	spans := []graph.Span{
		{TraceID: graph.TraceID{1}, SpanID: graph.SpanID{1}, Service: "a", Kind: graph.KindClient,
			Start: t0.UnixNano(), End: t0.Add(time.Millisecond).UnixNano(), Peer: graph.Peer{Name: "db", Kind: graph.PeerDatabase}},
	}
	st.AddSpans(spans)
	st.Advance(t0.Add(25 * time.Hour).UnixNano())
	st.Flush()
	data, err := st.MarshalBinary()
	require.NoError(t, err)

	core, logs := observer.New(zap.WarnLevel)
	host := storagetest.Host(map[component.ID]component.Component{storageID: storagetest.NewStorageWith(snapshotKey, string(data))})
	p := newPipelinesWithLogger(t, cfg, zap.New(core))
	p.start(t, host)
	c := p.conn()
	c.mu.Lock()
	wm, edges := c.store.Watermark(), c.store.Stats().Edges
	c.mu.Unlock()
	assert.Zero(t, wm, "the poisoned event time is not restored")
	assert.Equal(t, 1, edges, "the edges are")
	assert.Equal(t, 1, logs.FilterMessageSnippet("implausible event time").Len())

	// Live traffic closes its windows again.
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(1, time.Hour, false)...)))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(checkoutCall(2, time.Hour+40*time.Second, false)...)))
	c.tick(context.Background())
	assert.Equal(t, 3, countEvents(p.edges, eventEdge), "the first window closed")
	p.shutdown(t)
}

// The failures quoted by issue 11, one per rule: a failed HTTP call seen only in its status code,
// errors of CLIENT spans whose callee has no kind, and database calls from kind-less spans.
func TestIssueFailures(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.IdleAdvance = 0
	p := newPipelines(t, cfg, nil, false)
	var spans []span
	// 276 failed calls checkout -> payment: HTTP 500 on both sides, no span status.
	for i := range 276 {
		tr, id := byte(10+i/100), byte(2*(i%100)+1)
		at := time.Duration(i) * 10 * time.Millisecond
		spans = append(spans,
			span{svc: "checkout", trace: tr, id: id, kind: ptrace.SpanKindClient, at: at, dur: 30 * time.Millisecond,
				attrs: map[string]string{"http.request.method": "POST", "server.address": "payment"}},
			span{svc: "payment", trace: tr, id: id + 1, parent: id, kind: ptrace.SpanKindServer, at: at + time.Millisecond, dur: 20 * time.Millisecond,
				attrs: map[string]string{"http.request.method": "POST"}},
		)
	}
	td := makeTraces(spans...)
	setStatusCodes(td, "http.response.status_code", 500)
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))

	// 312 failed calls frontend -> ads: the CLIENT span has status ERROR, the callee's span no kind.
	spans = spans[:0]
	for i := range 312 {
		tr, id := byte(20+i/100), byte(2*(i%100)+1)
		at := 3*time.Second + time.Duration(i)*time.Millisecond
		spans = append(spans,
			span{svc: "frontend", trace: tr, id: id, kind: ptrace.SpanKindClient, at: at, dur: 30 * time.Millisecond, err: true,
				attrs: map[string]string{"peer.service": "ads"}},
			span{svc: "ads", trace: tr, id: id + 1, parent: id, kind: ptrace.SpanKindUnspecified, at: at + time.Millisecond, dur: 20 * time.Millisecond},
		)
	}
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(spans...)))

	// 3,262 database calls from kind-less spans (db.system, db.name), in 17 requests.
	for r := 0; r < 3262; r += 200 {
		spans = spans[:0]
		for i := r; i < min(r+200, 3262); i++ {
			at := 5*time.Second + time.Duration(i)*time.Millisecond
			spans = append(spans, span{svc: "inventory", trace: byte(30 + i/200), id: byte(i%200 + 1), kind: ptrace.SpanKindUnspecified, at: at, dur: 2 * time.Millisecond,
				attrs: map[string]string{"db.system": "mysql", "db.name": "stock"}})
		}
		require.NoError(t, p.traces.ConsumeTraces(context.Background(), makeTraces(spans...)))
	}
	p.shutdown(t)
	got := totals(p.edges)
	assert.Equal(t, edgeSummary{client: "checkout", server: "payment", conn: "http", source: "traces", calls: 276, errors: 276},
		got[[3]string{"checkout", "payment", "http"}])
	assert.Equal(t, edgeSummary{client: "frontend", server: "ads", conn: "inferred", source: "traces", calls: 312, errors: 312},
		got[[3]string{"frontend", "ads", "inferred"}])
	assert.Equal(t, edgeSummary{client: "inventory", server: "stock", conn: "database", source: "traces", calls: 3262},
		got[[3]string{"inventory", "stock", "database"}])
	assert.Len(t, got, 3)

	// Both sides' latency where both exist: HTTP pairs have a client (30 ms) and a server
	// (20 ms) side, the inferred edge a server side only, the database edge a client side only.
	sides := map[string][2]bool{}
	for _, lr := range records(p.edges) {
		if lr.EventName() != eventEdge {
			continue
		}
		_, c := lr.Attributes().Get(attrClientP95)
		_, s := lr.Attributes().Get(attrServerP95)
		sides[summarize(lr).conn] = [2]bool{c, s}
		if summarize(lr).conn == "http" {
			cp, _ := lr.Attributes().Get(attrClientP95)
			sp, _ := lr.Attributes().Get(attrServerP95)
			assert.InDelta(t, 30.0, cp.Double(), 1e-9)
			assert.InDelta(t, 20.0, sp.Double(), 1e-9)
		}
	}
	assert.Equal(t, map[string][2]bool{"http": {true, true}, "inferred": {false, true}, "database": {true, false}}, sides)
}

// setStatusCodes puts an int status code attribute on every span of td.
func setStatusCodes(td ptrace.Traces, key string, code int64) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				sp.Attributes().PutInt(key, code)
			}
		}
	}
}
