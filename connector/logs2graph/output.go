// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package logs2graph // import "github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph"

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-aiops/otelcol-aiops/connector/logs2graph/internal/metadata"
	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graph"
	"github.com/otelcol-aiops/otelcol-aiops/internal/graphpdata"
)

// Event names and attribute keys of the edge records (the contract in docs/attributes.md).
const (
	eventEdge     = contract.EventEdge
	eventSnapshot = contract.EventSnapshot
	eventProgress = contract.EventProgress
	eventService  = contract.EventService

	attrEventName    = contract.AttrEventName
	attrClient       = contract.AttrGraphClient
	attrServer       = contract.AttrGraphServer
	attrConnType     = contract.AttrGraphConnType
	attrCalls        = contract.AttrGraphCalls
	attrErrors       = contract.AttrGraphErrors
	attrLogErrors    = contract.AttrGraphLogErrors
	attrP50          = contract.AttrGraphP50
	attrP95          = contract.AttrGraphP95
	attrP99          = contract.AttrGraphP99
	attrClientP95    = contract.AttrGraphClientP95
	attrServerP95    = contract.AttrGraphServerP95
	attrGapP95       = contract.AttrGraphGapP95
	attrGapP50       = contract.AttrGraphGapP50
	attrGapCalls     = contract.AttrGraphGapCalls
	attrService      = contract.AttrGraphService
	attrSpans        = contract.AttrGraphSpans
	attrSelfMean     = contract.AttrGraphSelfMean
	attrEgressSpans  = contract.AttrGraphEgressSpans
	attrEgressMean   = contract.AttrGraphEgressMean
	attrWindowStart  = contract.AttrGraphWindowStart
	attrWindowEnd    = contract.AttrGraphWindowEnd
	attrSource       = contract.AttrGraphSource
	attrFirstSeen    = contract.AttrGraphFirstSeen
	attrLastSeen     = contract.AttrGraphLastSeen
	attrClientKind   = contract.AttrGraphClientKind
	attrServerKind   = contract.AttrGraphServerKind
	attrClientSystem = contract.AttrGraphClientSystem
	attrServerSystem = contract.AttrGraphServerSystem
)

// Metric names and attributes of the traces -> metrics output (contrib servicegraph's).
const (
	metricRequestTotal  = "traces_service_graph_request_total"
	metricRequestFailed = "traces_service_graph_request_failed_total"
	metricServerSeconds = "traces_service_graph_request_server_seconds"
	metricClientSeconds = "traces_service_graph_request_client_seconds"
)

// putIdentity writes the output resource: service.name is the connector's ID, and
// service.instance.id (when not empty) this replica's instance id.
func putIdentity(m pcommon.Map, identity, instance string) {
	m.PutStr(graphpdata.AttrServiceName, identity)
	if instance != "" {
		m.PutStr(contract.AttrServiceInstanceID, instance)
	}
}

// instanceID is the configured instance id, or the host name (empty if it cannot be read).
func instanceID(configured string) string {
	if configured != "" {
		return configured
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// newOutputLogs returns a plog.Logs with the connector's resource and scope, and the record
// slice to fill.
func newOutputLogs(identity, instance string) (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	putIdentity(rl.Resource().Attributes(), identity, instance)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	return ld, sl.LogRecords()
}

// windowsToLogs builds one logs2graph.edge record per edge and window, then, when progress is
// not 0, one logs2graph.progress record saying that every window ending at or before progress
// has been emitted (interval is the window length).
func windowsToLogs(identity, instance string, windows []graph.Window, progress int64, interval time.Duration, observed pcommon.Timestamp) (plog.Logs, int) {
	ld, lrs := newOutputLogs(identity, instance)
	n := 0
	for _, w := range windows {
		n += len(w.Edges) + len(w.Services)
	}
	lrs.EnsureCapacity(n + 1)
	for _, w := range windows {
		for i := range w.Edges {
			lr := lrs.AppendEmpty()
			e := &w.Edges[i]
			fillRecord(lr, eventEdge, e, w.Start, w.End, observed)
			if e.ClientSideCalls > 0 {
				lr.Attributes().PutDouble(attrClientP95, e.ClientSide.P95)
			}
			if e.ServerSideCalls > 0 {
				lr.Attributes().PutDouble(attrServerP95, e.ServerSide.P95)
			}
			if e.ClientSideCalls > 0 && e.ServerSideCalls > 0 {
				// time spent between the two sides (network, queues, the caller's egress)
				lr.Attributes().PutDouble(attrGapP95, e.ClientSide.P95-e.ServerSide.P95)
			}
			if e.GapCalls > 0 {
				lr.Attributes().PutInt(attrGapCalls, clampInt(e.GapCalls))
				lr.Attributes().PutDouble(attrGapP50, e.Gap.P50)
				lr.Attributes().PutDouble(contract.AttrGraphGapRequest, e.GapRequest)
				lr.Attributes().PutDouble(contract.AttrGraphGapResponse, e.GapResponse)
			}
		}
		for i := range w.Services {
			fillService(lrs.AppendEmpty(), &w.Services[i], w.Start, w.End, observed)
		}
	}
	if progress > 0 {
		fillProgress(lrs.AppendEmpty(), progress-int64(interval), progress, observed)
		n++
	}
	return ld, n
}

// fillService makes lr a logs2graph.service record: one service's own time in a window.
func fillService(lr plog.LogRecord, sw *graph.ServiceWindow, start, end int64, observed pcommon.Timestamp) {
	lr.SetEventName(eventService)
	lr.SetTimestamp(pcommon.Timestamp(max(end, 0)))
	lr.SetObservedTimestamp(observed)
	mean := func(sum int64, n uint64) float64 {
		if n == 0 {
			return 0
		}
		return float64(sum) / float64(n) / 1e6
	}
	self, egress := mean(sw.SelfNs, sw.Spans), mean(sw.EgressNs, sw.EgressSpans)
	lr.Body().SetStr(fmt.Sprintf("%s: %d spans, own time %.1f ms on average; %d calls out, %.1f ms egress on average",
		sw.Service, sw.Spans, self, sw.EgressSpans, egress))
	a := lr.Attributes()
	a.EnsureCapacity(9)
	a.PutStr(attrEventName, eventService)
	a.PutStr(attrService, sw.Service)
	a.PutInt(attrSpans, clampInt(sw.Spans))
	a.PutInt(attrErrors, clampInt(sw.Errors))
	a.PutDouble(attrSelfMean, self)
	a.PutInt(attrEgressSpans, clampInt(sw.EgressSpans))
	a.PutDouble(attrEgressMean, egress)
	a.PutInt(attrWindowStart, start)
	a.PutInt(attrWindowEnd, end)
}

// fillProgress makes lr a logs2graph.progress record for closed-up-to time end; start is the
// start of the last closed window, so that end - start is the window length and no later edge
// record can have a window end before end + (end - start).
func fillProgress(lr plog.LogRecord, start, end int64, observed pcommon.Timestamp) {
	lr.SetEventName(eventProgress)
	lr.SetTimestamp(pcommon.Timestamp(end))
	lr.SetObservedTimestamp(observed)
	lr.Body().SetStr("edges complete up to " + time.Unix(0, end).UTC().Format(time.RFC3339Nano))
	a := lr.Attributes()
	a.EnsureCapacity(3)
	a.PutStr(attrEventName, eventProgress)
	a.PutInt(attrWindowStart, start)
	a.PutInt(attrWindowEnd, end)
}

// snapshotToLogs builds one logs2graph.snapshot record per live edge, with cumulative values.
// The window is [first seen, watermark].
func snapshotToLogs(identity, instance string, edges []graph.Edge, watermark int64, observed pcommon.Timestamp) (plog.Logs, int) {
	ld, lrs := newOutputLogs(identity, instance)
	lrs.EnsureCapacity(len(edges))
	for i := range edges {
		e := &edges[i]
		lr := lrs.AppendEmpty()
		fillRecord(lr, eventSnapshot, e, e.FirstSeen, max(watermark, e.LastSeen), observed)
		lr.Attributes().PutInt(attrLastSeen, e.LastSeen)
	}
	return ld, len(edges)
}

func fillRecord(lr plog.LogRecord, event string, e *graph.Edge, start, end int64, observed pcommon.Timestamp) {
	lr.SetEventName(event)
	lr.SetTimestamp(pcommon.Timestamp(max(end, 0)))
	lr.SetObservedTimestamp(observed)
	lr.Body().SetStr(edgeBody(e))
	a := lr.Attributes()
	a.EnsureCapacity(22)
	a.PutStr(attrEventName, event)
	a.PutStr(attrClient, e.Client.Name)
	a.PutStr(attrServer, e.Server.Name)
	a.PutStr(attrConnType, e.Conn.String())
	a.PutInt(attrCalls, clampInt(e.Calls))
	a.PutInt(attrErrors, clampInt(e.Errors))
	a.PutInt(attrLogErrors, clampInt(e.LogErrors))
	a.PutDouble(attrP50, e.Latency.P50)
	a.PutDouble(attrP95, e.Latency.P95)
	a.PutDouble(attrP99, e.Latency.P99)
	a.PutInt(attrWindowStart, start)
	a.PutInt(attrWindowEnd, end)
	a.PutStr(attrSource, e.Source.String())
	a.PutInt(attrFirstSeen, e.FirstSeen)
	a.PutStr(attrClientKind, e.Client.Kind.String())
	a.PutStr(attrServerKind, e.Server.Kind.String())
	if e.Client.System != "" {
		a.PutStr(attrClientSystem, e.Client.System)
	}
	if e.Server.System != "" {
		a.PutStr(attrServerSystem, e.Server.System)
	}
}

// edgeBody is the short human summary of an edge record.
func edgeBody(e *graph.Edge) string {
	s := e.Client.Name + " -> " + e.Server.Name + " (" + e.Conn.String() + "): " +
		strconv.FormatUint(e.Calls, 10) + " calls, " + strconv.FormatUint(e.Errors, 10) + " errors"
	if e.Calls > 0 {
		s += ", p95 " + strconv.FormatFloat(e.Latency.P95, 'f', 1, 64) + " ms"
	}
	if e.LogErrors > 0 {
		s += fmt.Sprintf(", %d error logs", e.LogErrors)
	}
	return s
}

func clampInt(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// servicegraphConnType maps our connection types to contrib servicegraph's connection_type
// label values (docs/graph.md).
func servicegraphConnType(c graph.ConnType) string {
	switch c {
	case graph.ConnMessaging:
		return "messaging_system"
	case graph.ConnDatabase:
		return "database"
	case graph.ConnVirtual:
		return "virtual_node"
	}
	return ""
}

// snapshotToMetrics builds contrib-servicegraph-compatible cumulative metrics from a snapshot.
// Edges known only from logs (no calls) are left out. The start time of every point is the
// edge's first event (at most now), so that an edge removed after edge_ttl and seen again
// restarts its series visibly.
func snapshotToMetrics(identity, instance string, edges []graph.Edge, now pcommon.Timestamp) (pmetric.Metrics, int) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putIdentity(rm.Resource().Attributes(), identity, instance)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)

	total := sm.Metrics().AppendEmpty()
	total.SetName(metricRequestTotal)
	total.SetDescription("Requests between two nodes, from traces.")
	total.SetUnit("{request}")
	totalSum := total.SetEmptySum()
	totalSum.SetIsMonotonic(true)
	totalSum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	failed := sm.Metrics().AppendEmpty()
	failed.SetName(metricRequestFailed)
	failed.SetDescription("Failed requests between two nodes, from traces.")
	failed.SetUnit("{request}")
	failedSum := failed.SetEmptySum()
	failedSum.SetIsMonotonic(true)
	failedSum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	server := sm.Metrics().AppendEmpty()
	server.SetName(metricServerSeconds)
	server.SetDescription("Server-side request duration between two nodes.")
	server.SetUnit("s")
	serverHist := server.SetEmptyHistogram()
	serverHist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	client := sm.Metrics().AppendEmpty()
	client.SetName(metricClientSeconds)
	client.SetDescription("Client-side request duration between two nodes.")
	client.SetUnit("s")
	clientHist := client.SetEmptyHistogram()
	clientHist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)

	points := 0
	for i := range edges {
		e := &edges[i]
		if e.Calls == 0 {
			continue
		}
		start := pcommon.Timestamp(max(min(e.FirstSeen, int64(now)), 0))
		conn := servicegraphConnType(e.Conn)

		dp := totalSum.DataPoints().AppendEmpty()
		putEdgeLabels(dp.Attributes(), e, conn)
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(now)
		dp.SetIntValue(clampInt(e.Calls))

		fp := failedSum.DataPoints().AppendEmpty()
		putEdgeLabels(fp.Attributes(), e, conn)
		fp.SetStartTimestamp(start)
		fp.SetTimestamp(now)
		fp.SetIntValue(clampInt(e.Errors))
		points += 2

		for _, h := range []struct {
			hist pmetric.Histogram
			src  *graph.Histogram
		}{{serverHist, &e.ServerLatency}, {clientHist, &e.ClientLatency}} {
			if h.src.Count == 0 {
				continue
			}
			hp := h.hist.DataPoints().AppendEmpty()
			putEdgeLabels(hp.Attributes(), e, conn)
			hp.SetStartTimestamp(start)
			hp.SetTimestamp(now)
			hp.SetCount(h.src.Count)
			hp.SetSum(h.src.Sum)
			hp.ExplicitBounds().FromRaw(h.src.Bounds)
			hp.BucketCounts().FromRaw(h.src.Counts)
			points++
		}
	}
	return md, points
}

func putEdgeLabels(a pcommon.Map, e *graph.Edge, conn string) {
	a.EnsureCapacity(3)
	a.PutStr("client", e.Client.Name)
	a.PutStr("server", e.Server.Name)
	a.PutStr("connection_type", conn)
}
