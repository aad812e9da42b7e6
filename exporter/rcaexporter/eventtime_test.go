// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter/internal/metadatatest"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
	"github.com/otelcol-aiops/otelcol-aiops/internal/storageutil/storagetest"
)

// A piece of input as a pipeline delivers it: its arrival rank decides the order.
type arrival struct {
	at  time.Duration // arrival order key (event-time offset at which the pipeline delivers it)
	seq int
	ld  plog.Logs
}

// addNormal appends one normal annotated record of service at t.
func addNormal(ld plog.Logs, service string, at time.Time) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.Body().SetStr("request handled")
	lr.Attributes().PutBool("anomaly.detected", false)
}

// addProgress appends a logs2graph.progress record of the connector "logs2graph".
func addProgress(ld plog.Logs, end time.Time) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "logs2graph")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(progressEventName)
	lr.Attributes().PutInt(attrWindowEnd, end.UnixNano())
}

// faultStream is twelve minutes of a shop: normal records of three services every second, a
// database fault from minute 5 to 7 (callers log error bursts, edges fail), and edge windows of
// 15 s that the connector delivers edgeDelay after the window ends. logBatch groups the log
// records of that many seconds into one request.
func faultStream(logBatch int, edgeDelay time.Duration) []arrival {
	var out []arrival
	services := []string{"frontend", "checkout", "payment"}
	faultAt, faultEnd := 5*time.Minute, 7*time.Minute
	for s := 0; s < 12*60; s += logBatch {
		ld := plog.NewLogs()
		for k := s; k < s+logBatch; k++ {
			at := time.Duration(k) * time.Second
			for i, svc := range services {
				addNormal(ld, svc, t0.Add(at+time.Duration(i)*100*time.Millisecond))
			}
			if at >= faultAt && at < faultEnd && k%3 == 0 {
				addAnomaly(ld, "payment", t0.Add(at+300*time.Millisecond), 0.8, "error_burst", "p1", "db query failed <*>", "db query failed 10.0.0.7")
				addAnomaly(ld, "checkout", t0.Add(at+700*time.Millisecond), 0.75, "error_burst", "c1", "payment call failed <*>", "payment call failed 503")
			}
		}
		out = append(out, arrival{at: time.Duration(s+logBatch) * time.Second, ld: ld})
	}
	for w := time.Duration(0); w < 12*time.Minute; w += 15 * time.Second {
		ld := plog.NewLogs()
		if w >= faultAt && w < faultEnd {
			addEdges(ld, t0.Add(w), shopEdges(60, 40))
		} else {
			addEdges(ld, t0.Add(w), shopEdges(0, 0))
		}
		ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "logs2graph")
		addProgress(ld, t0.Add(w+15*time.Second))
		out = append(out, arrival{at: w + 15*time.Second + edgeDelay, seq: 1, ld: ld})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].at != out[j].at {
			return out[i].at < out[j].at
		}
		return out[i].seq < out[j].seq
	})
	return out
}

// playStream feeds the arrivals to a fresh exporter and returns the JSON of every incident
// version the webhook received, in order.
func playStream(t *testing.T, arrivals []arrival) []string {
	t.Helper()
	wh := newWebhookServer(t)
	e, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), testConfig(wh.srv.URL), clockwork.NewFakeClockAt(t0.Add(time.Hour)))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	for _, a := range arrivals {
		require.NoError(t, e.ConsumeLogs(context.Background(), a.ld))
	}
	require.NoError(t, e.Shutdown(context.Background()))
	var out []string
	for _, inc := range wh.incidents() {
		b, err := json.Marshal(inc)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

// The same input gives byte-identical incidents whatever the batching of the logs pipeline, the
// delay of the connector's edge windows and the order of requests within the allowed lateness.
func TestSameInputSameIncidentsWhateverTheInterleaving(t *testing.T) {
	ref := playStream(t, faultStream(1, 15*time.Second))
	require.NotEmpty(t, ref)
	var first incident.Incident
	require.NoError(t, json.Unmarshal([]byte(ref[len(ref)-1]), &first))
	assert.Equal(t, "orders-db", first.RootCauseService)
	assert.Equal(t, incident.StatusResolved, first.Status)

	swapped := faultStream(2, 40*time.Second)
	for i := 0; i+1 < len(swapped); i += 2 { // neighbours about 2 s apart, within the lateness
		if swapped[i].seq == 0 && swapped[i+1].seq == 0 {
			swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
		}
	}
	for name, arrivals := range map[string][]arrival{
		"log requests of 5 s":             faultStream(5, 15*time.Second),
		"edges delivered early":           faultStream(1, 0),
		"edges late, requests swapped":    swapped,
		"edge windows a minute at a time": batchEdges(faultStream(1, 15*time.Second), 4),
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, ref, playStream(t, arrivals))
		})
	}
}

// batchEdges delivers the connector's output n windows at a time, with the last of them.
func batchEdges(in []arrival, n int) []arrival {
	var out []arrival
	var held []arrival
	for _, a := range in {
		if a.seq != 1 {
			out = append(out, a)
			continue
		}
		held = append(held, a)
		if len(held) == n {
			ld := plog.NewLogs()
			for _, h := range held {
				h.ld.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
			}
			out = append(out, arrival{at: a.at, seq: 1, ld: ld})
			held = held[:0]
		}
	}
	out = append(out, held...)
	return out
}

// The minimal case of issue 11: services warmed up, one record of one service stamped ten minutes
// (or two hours, or eighty years) ahead, then an error burst in another service: the incident
// still opens, and with storage a restart does not carry the skewed clock over.
func TestRecordStampedAheadDoesNotStopIncidents(t *testing.T) {
	for _, ahead := range []time.Duration{10 * time.Minute, 2 * time.Hour, 80 * 365 * 24 * time.Hour} {
		t.Run(ahead.String(), func(t *testing.T) {
			wh := newWebhookServer(t)
			cfg := testConfig(wh.srv.URL)
			id := component.MustNewID("file_storage")
			cfg.Storage = &id
			host := storagetest.Host{id: storagetest.NewMemStorage()}
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			// a replay: the wall clock is a day later than the data
			e, err := newExporter(context.Background(), metadatatest.NewSettings(tel), cfg, clockwork.NewFakeClockAt(t0.Add(24*time.Hour)))
			require.NoError(t, err)
			require.NoError(t, e.Start(context.Background(), host))
			services := []string{"frontend", "checkout", "payment", "cart"}
			for s := range 300 {
				ld := plog.NewLogs()
				for _, svc := range services {
					addNormal(ld, svc, t0.Add(time.Duration(s)*time.Second))
				}
				if s == 120 {
					addAnomaly(ld, "cart", t0.Add(time.Duration(s)*time.Second+ahead), 0.9, "new_template", "x1", "clock <*>", "clock jumped")
				}
				if s >= 200 && s%2 == 0 {
					addAnomaly(ld, "payment", t0.Add(time.Duration(s)*time.Second), 0.8, "error_burst", "p1", "db query failed <*>", "db query failed 10.0.0.7")
				}
				require.NoError(t, e.ConsumeLogs(context.Background(), ld))
			}
			got := wh.incidents()
			require.NotEmpty(t, got, "the error burst opened an incident")
			assert.Equal(t, "payment", got[0].RootCauseService)
			assert.Equal(t, t0.Add(200*time.Second), got[0].StartedAt)
			require.NoError(t, e.Shutdown(context.Background()))
			assert.Zero(t, e.engine.Stats().DroppedLate, "no evidence was late")
			if ahead < 24*time.Hour {
				// nobody confirms the skewed record's time: at shutdown it is dropped and counted
				metadatatest.AssertEqualExporterRcaDropped(t, tel, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "unconfirmed_event_time"))},
				}, metricdatatest.IgnoreTimestamp())
			}

			// restart from the snapshot: event time continues where the services were
			e2, err := newExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg, clockwork.NewFakeClockAt(t0.Add(24*time.Hour)))
			require.NoError(t, err)
			require.NoError(t, e2.Start(context.Background(), host))
			assert.Less(t, e2.engine.Watermark(), t0.Add(10*time.Minute).UnixNano(), "the skewed record did not move the persisted event time")
			require.NoError(t, e2.Shutdown(context.Background()))
		})
	}
}

// While event time follows the wall clock, a record ahead of it is re-stamped and counted.
func TestLiveRecordAheadIsRestamped(t *testing.T) {
	wh := newWebhookServer(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := clockwork.NewFakeClockAt(t0.Add(5 * time.Second))
	e, err := newExporter(context.Background(), metadatatest.NewSettings(tel), testConfig(wh.srv.URL), clock)
	require.NoError(t, err)
	ld := plog.NewLogs()
	addNormal(ld, "a", t0)
	addNormal(ld, "b", t0)
	addAnomaly(ld, "a", t0.Add(10*time.Minute), 0.9, "new_template", "x1", "x <*>", "x 1")
	zero := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	zero.SetTimestamp(pcommon.Timestamp(math.MaxInt64)) // beyond any plausible time
	require.NoError(t, e.ConsumeLogs(context.Background(), ld))
	require.NoError(t, e.Shutdown(context.Background()))
	metadatatest.AssertEqualExporterRcaTimestampsFixed(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "clock_ahead"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "impossible_timestamp"))},
	}, metricdatatest.IgnoreTimestamp())
}

func testSequencer(t *testing.T) *sequencer {
	t.Helper()
	engine, err := rca.New(rca.DefaultConfig())
	require.NoError(t, err)
	return newSequencer(engine, eventtime.New(eventtime.DefaultConfig()), 10*time.Second, 2*time.Minute, 1000)
}

func sec(n int) int64 { return t0.Add(time.Duration(n) * time.Second).UnixNano() }

func TestWatermarkRules(t *testing.T) {
	s := testSequencer(t)
	assert.Equal(t, int64(math.MinInt64), s.watermark(), "nothing yet")
	s.add(&batchInput{logs: []progress{{"a", sec(100)}, {"b", sec(90)}}})
	assert.Equal(t, sec(80), s.watermark(), "the logs' event time (the second service) minus the lateness")
	s.add(&batchInput{logs: []progress{{"a", sec(200)}, {"b", sec(200)}}})
	assert.Equal(t, sec(90), s.watermark(), "until an edge stream is seen, the first log time stands for it")
	s.add(&batchInput{logs: []progress{{"a", sec(230)}, {"b", sec(230)}}})
	assert.Equal(t, sec(220), s.watermark(), "for at most idle_timeout: then logs only, their event time (the second service) minus the lateness")
	s = testSequencer(t)
	s.add(&batchInput{logs: []progress{{"a", sec(100)}, {"b", sec(90)}}})
	s.add(&batchInput{edges: []progress{{"logs2graph", sec(60)}}})
	assert.Equal(t, sec(60), s.watermark(), "the edge stream is behind: it holds event time")
	s.add(&batchInput{logs: []progress{{"a", sec(300)}, {"b", sec(300)}}})
	assert.Equal(t, sec(290), s.watermark(), "an edge stream idle for more than idle_timeout no longer holds it")
	s.add(&batchInput{edges: []progress{{"logs2graph", sec(295)}}})
	assert.Equal(t, sec(290), s.watermark())
	s.add(&batchInput{logs: []progress{{"a", sec(3000)}}})
	assert.Equal(t, sec(290), s.watermark(), "one service cannot move event time")
}

func TestLateAndPressureAreCounted(t *testing.T) {
	s := testSequencer(t)
	s.maxPending = 2
	s.add(&batchInput{edges: []progress{{"logs2graph", sec(100)}}, logs: []progress{{"a", sec(100)}, {"b", sec(100)}}})
	s.process()
	anom := func(at int64) evidence {
		return evidence{t: at, a: rca.Anomaly{Service: "a", Time: at, Score: 0.8, Type: "error_burst"}}
	}
	s.add(&batchInput{evidence: []evidence{anom(sec(50))}, maxTime: sec(50)})
	assert.Equal(t, uint64(1), s.late)
	s.process()
	assert.Empty(t, s.pending, "late evidence is still applied")
	s.add(&batchInput{evidence: []evidence{anom(sec(80)), anom(sec(150)), anom(sec(151)), anom(sec(152))}, maxTime: sec(152)})
	s.process()
	assert.Equal(t, uint64(1), s.pressure)
	assert.Equal(t, uint64(1), s.unconfirmed, "beyond the bound, the evidence furthest ahead of any confirmed time is dropped")
	assert.Len(t, s.pending, 2, "the rest waits for event time")
	s.add(&batchInput{edges: []progress{{"logs2graph", sec(170)}}, logs: []progress{{"a", sec(180)}, {"b", sec(180)}}})
	s.process()
	assert.Empty(t, s.pending)
}

func TestStepBoundaries(t *testing.T) {
	assert.Equal(t, sec(10), ceilStep(sec(10)))
	assert.Equal(t, sec(11), ceilStep(sec(10)+1))
	assert.Equal(t, sec(10), floorStep(sec(10)+int64(999*time.Millisecond)))
	assert.Equal(t, -step, floorStep(-1))
	assert.Equal(t, int64(0), ceilStep(-1))
	for _, x := range []int64{0, 1, sec(3) - 1} {
		assert.LessOrEqual(t, floorStep(x), x, fmt.Sprint(x))
		assert.GreaterOrEqual(t, ceilStep(x), x)
	}
}

// An edge stream's progress is how far it is complete: after the window [s, e) closed, no edge
// record ending before e + (e - s) can come, so the stream holds event time back by less.
func TestEdgeStreamProgressFromRecords(t *testing.T) {
	clk := eventtime.New(eventtime.Config{})
	read := func(start, end int64, edge bool) int64 {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "logs2graph")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		if edge {
			lr.SetEventName(edgeEventName)
			lr.Attributes().PutStr("graph.client", "a")
			lr.Attributes().PutStr("graph.server", "b")
		} else {
			lr.SetEventName(progressEventName)
		}
		if start != 0 {
			lr.Attributes().PutInt(attrWindowStart, start)
		}
		lr.Attributes().PutInt(attrWindowEnd, end)
		var in batchInput
		in.read(ld, clk, sec(1_000_000))
		require.Len(t, in.edges, 1)
		return in.edges[0].t
	}
	assert.Equal(t, sec(120)-1, read(sec(60), sec(90), false), "a progress record: one window length beyond its end, exclusive")
	assert.Equal(t, sec(120)-1, read(sec(60), sec(90), true), "an edge record says the same")
	assert.Equal(t, sec(90), read(0, sec(90), false), "without a start (an older connector): its end")
	assert.Equal(t, sec(90), read(sec(95), sec(90), false), "an inverted window: its end")
}

// A logs2graph.service record is read as a service window (own time) of the edge stream, and
// shows the stream's progress like an edge record; one without a service is counted bad.
func TestServiceRecordsAreRead(t *testing.T) {
	clk := eventtime.New(eventtime.Config{})
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "logs2graph")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lr := lrs.AppendEmpty()
	lr.SetEventName(serviceEventName)
	a := lr.Attributes()
	a.PutStr("graph.service", "orders-db")
	a.PutInt("graph.spans", 40)
	a.PutInt("graph.errors", 2)
	a.PutDouble("graph.self_time.mean_ms", 12.5)
	a.PutInt("graph.egress.spans", 3)
	a.PutDouble("graph.egress.mean_ms", 1.5)
	a.PutInt(attrWindowStart, sec(60))
	a.PutInt(attrWindowEnd, sec(75))
	bad := lrs.AppendEmpty()
	bad.SetEventName(serviceEventName)
	bad.Attributes().PutInt(attrWindowEnd, sec(75))
	var in batchInput
	in.read(ld, clk, sec(1_000_000))
	require.Len(t, in.evidence, 1)
	ev := in.evidence[0]
	assert.True(t, ev.svc)
	assert.Equal(t, sec(75), ev.t)
	assert.Equal(t, rca.ServiceWindow{Service: "orders-db", Spans: 40, Errors: 2, SelfMs: 12.5, EgressSpans: 3, EgressMs: 1.5,
		WindowStart: sec(60), WindowEnd: sec(75)}, ev.sw)
	assert.Equal(t, 1, in.bad)
	require.Len(t, in.edges, 1)
	assert.Equal(t, sec(90)-1, in.edges[0].t)
}

// replicaRecords is what one replica of the connector sends for the window [start, start+15s):
// one edge record, one service record and a progress record, under its service.instance.id.
func replicaRecords(instance string, start time.Time, calls, spans int64, p95, self float64) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "logs2graph")
	rl.Resource().Attributes().PutStr("service.instance.id", instance)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	end := start.Add(15 * time.Second)
	e := lrs.AppendEmpty()
	e.SetEventName(edgeEventName)
	e.SetTimestamp(pcommon.NewTimestampFromTime(end))
	ea := e.Attributes()
	ea.PutStr("graph.client", "checkout")
	ea.PutStr("graph.server", "payment")
	ea.PutStr("graph.client.kind", "service")
	ea.PutStr("graph.server.kind", "service")
	ea.PutStr("graph.connection_type", "inferred")
	ea.PutInt("graph.calls", calls)
	ea.PutDouble("graph.latency.p50_ms", p95/2)
	ea.PutDouble("graph.latency.p95_ms", p95)
	ea.PutDouble("graph.latency.p99_ms", p95)
	ea.PutInt("graph.gap.calls", calls)
	ea.PutDouble("graph.gap.p50_ms", 2)
	ea.PutDouble("graph.gap.request_ms", 0.5)
	ea.PutInt("graph.gap.response_ms", 1)
	ea.PutInt(attrWindowStart, start.UnixNano())
	ea.PutInt(attrWindowEnd, end.UnixNano())
	s := lrs.AppendEmpty()
	s.SetEventName(serviceEventName)
	s.SetTimestamp(pcommon.NewTimestampFromTime(end))
	sa := s.Attributes()
	sa.PutStr("graph.service", "payment")
	sa.PutInt("graph.spans", spans)
	sa.PutDouble("graph.self_time.mean_ms", self)
	sa.PutInt(attrWindowStart, start.UnixNano())
	sa.PutInt(attrWindowEnd, end.UnixNano())
	p := lrs.AppendEmpty()
	p.SetEventName(progressEventName)
	p.Attributes().PutInt(attrWindowStart, start.UnixNano())
	p.Attributes().PutInt(attrWindowEnd, end.UnixNano())
	return ld
}

// TestReplicaSharesAreMerged: two replicas of the connector each saw part of the traces of one
// window. Each is a stream of its own (event time waits for both), and their shares reach the
// engine as one window with the calls added up.
func TestReplicaSharesAreMerged(t *testing.T) {
	s := testSequencer(t)
	clk := eventtime.New(eventtime.DefaultConfig())
	feed := func(ld plog.Logs) {
		var in batchInput
		in.read(ld, clk, 0)
		require.Zero(t, in.bad)
		s.add(&in)
		s.process()
	}
	w0 := t0
	both := replicaRecords("replica-1", w0, 30, 40, 80, 3)
	replicaRecords("replica-2", w0, 10, 20, 40, 6).ResourceLogs().MoveAndAppendTo(both.ResourceLogs())
	feed(both)
	assert.Len(t, s.edges, 2, "each replica is a stream of its own")
	feed(replicaRecords("replica-1", w0.Add(15*time.Second), 30, 40, 80, 3))
	assert.Equal(t, uint64(2), s.shares, "the second replica's edge and service windows merged into the first's")
	st := s.engine.Stats()
	assert.Equal(t, uint64(1), st.EdgesIn, "one edge window reached the engine")
	assert.Equal(t, uint64(1), st.ServiceWindowsIn, "one service window reached the engine")
	assert.Less(t, s.watermark(), w0.Add(30*time.Second).UnixNano(), "replica-2 holds event time back until it reports its next window")

	ev, n := mergeShares([]evidence{
		{t: 1, edge: true, w: rca.EdgeWindow{Client: "a", Server: "b", WindowStart: 0, WindowEnd: 1, Calls: 30, P50: 10, P95: 80, P99: 90, GapCalls: 30, GapP50: 2}},
		{t: 1, edge: true, w: rca.EdgeWindow{Client: "a", Server: "b", WindowStart: 0, WindowEnd: 1, Calls: 10, P50: 30, P95: 40, P99: 50, GapCalls: 10, GapP50: 6, Errors: 2}},
		{t: 1, svc: true, sw: rca.ServiceWindow{Service: "b", WindowStart: 0, WindowEnd: 1, Spans: 40, SelfMs: 3}},
		{t: 1, svc: true, sw: rca.ServiceWindow{Service: "b", WindowStart: 0, WindowEnd: 1, Spans: 20, SelfMs: 6}},
		{t: 1, svc: true, sw: rca.ServiceWindow{Service: "c", WindowStart: 0, WindowEnd: 1, Spans: 5, SelfMs: 1}},
	})
	require.Equal(t, 2, n)
	require.Len(t, ev, 3)
	w := ev[0].w
	assert.Equal(t, int64(40), w.Calls)
	assert.Equal(t, int64(2), w.Errors)
	assert.InDelta(t, 15.0, w.P50, 1e-9, "weighted by calls")
	assert.InDelta(t, 70.0, w.P95, 1e-9, "40 calls: the weighted estimate")
	assert.InDelta(t, 90.0, w.P99, 1e-9, "fewer than 100 calls: the p99 is the maximum, exactly")
	assert.InDelta(t, 3.0, w.GapP50, 1e-9)
	assert.Equal(t, int64(60), ev[1].sw.Spans)
	assert.InDelta(t, 4.0, ev[1].sw.SelfMs, 1e-9, "the mean own time over both shares, exactly")
	assert.Equal(t, "c", ev[2].sw.Service, "other windows are left alone")
	assert.False(t, w.GapLegs, "shares without legs merge into a window without legs")

	// The gap's legs are read from the records (a double or an int), and merged weighted by
	// the gap's calls when both shares have them.
	var in batchInput
	in.read(replicaRecords("replica-1", w0, 30, 40, 80, 3), clk, 0)
	var read *rca.EdgeWindow
	for i := range in.evidence {
		if in.evidence[i].edge {
			read = &in.evidence[i].w
		}
	}
	require.NotNil(t, read)
	assert.True(t, read.GapLegs)
	assert.InDelta(t, 0.5, read.GapRequestMs, 1e-9)
	assert.InDelta(t, 1.0, read.GapResponseMs, 1e-9)
	legs := func(calls int64, req, resp float64, has bool) evidence {
		return evidence{t: 1, edge: true, w: rca.EdgeWindow{Client: "a", Server: "b", WindowEnd: 1, Calls: calls,
			GapCalls: calls, GapP50: req + resp, GapLegs: has, GapRequestMs: req, GapResponseMs: resp}}
	}
	ev, _ = mergeShares([]evidence{legs(30, 1, 2, true), legs(10, 5, 6, true)})
	require.Len(t, ev, 1)
	assert.True(t, ev[0].w.GapLegs)
	assert.InDelta(t, 2.0, ev[0].w.GapRequestMs, 1e-9)
	assert.InDelta(t, 3.0, ev[0].w.GapResponseMs, 1e-9)
	ev, _ = mergeShares([]evidence{legs(30, 1, 2, true), legs(10, 5, 6, false)})
	assert.False(t, ev[0].w.GapLegs, "a share without legs (an older connector): no legs")
	noGap := legs(0, 0, 0, false)
	ev, _ = mergeShares([]evidence{noGap, legs(10, 5, 6, true)})
	assert.True(t, ev[0].w.GapLegs, "a share without gap calls takes the other's legs")
	assert.InDelta(t, 5.0, ev[0].w.GapRequestMs, 1e-9)
}
