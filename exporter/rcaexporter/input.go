// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"cmp"
	"math"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/internal/contract"
	"github.com/otelcol-aiops/otelcol-aiops/internal/eventtime"
	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/metricsig"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// Names of the input contract (docs/attributes.md).
const (
	edgeEventName     = contract.EventEdge
	progressEventName = contract.EventProgress
	serviceEventName  = contract.EventService
	attrEventName     = contract.AttrEventName
	attrWindowStart   = contract.AttrGraphWindowStart
	attrWindowEnd     = contract.AttrGraphWindowEnd
)

// edgeProgress is how far an edge stream is complete after a window [start, end) closed: the
// connector closes its windows in order, so the next edge record ends at least one window
// length later, and nothing before end + (end - start) can still come. Without a valid start
// (an older connector) it is end.
func edgeProgress(start, end int64) int64 {
	if start <= 0 || start >= end || end > math.MaxInt64/2 {
		return end
	}
	return end + (end - start) - 1
}

// evidence is one anomaly or edge window waiting in event-time order.
type evidence struct {
	t    int64 // event time: the record's time, or the edge window's end
	edge bool
	svc  bool // a service window (own time)
	// metric: a metric sample, judged when applied (metrics.go)
	metric bool
	a      rca.Anomaly
	w      rca.EdgeWindow
	sw     rca.ServiceWindow
	ms     metricsig.Sample
}

// rank orders the kinds of evidence of one time: edges, service windows, anomalies.
func (x *evidence) rank() int {
	switch {
	case x.edge:
		return 0
	case x.svc:
		return 1
	case x.metric:
		return 2
	}
	return 3
}

// compareEvidence orders evidence by event time, then edges before anomalies, then content, so
// that equal times have one order whatever the arrival order.
func compareEvidence(x, y *evidence) int {
	if c := cmp.Compare(x.t, y.t); c != 0 {
		return c
	}
	if c := cmp.Compare(x.rank(), y.rank()); c != 0 {
		return c
	}
	if x.metric {
		return compareSamples(&x.ms, &y.ms)
	}
	if x.svc {
		a, b := &x.sw, &y.sw
		return cmp.Or(strings.Compare(a.Service, b.Service), cmp.Compare(a.WindowStart, b.WindowStart),
			cmp.Compare(a.Spans, b.Spans), cmp.Compare(a.SelfMs, b.SelfMs), cmp.Compare(a.EgressSpans, b.EgressSpans),
			cmp.Compare(a.EgressMs, b.EgressMs), cmp.Compare(a.Errors, b.Errors))
	}
	if x.edge {
		a, b := &x.w, &y.w
		return cmp.Or(strings.Compare(a.Client, b.Client), strings.Compare(a.Server, b.Server),
			strings.Compare(a.ConnType, b.ConnType), cmp.Compare(a.WindowStart, b.WindowStart),
			cmp.Compare(a.Calls, b.Calls), cmp.Compare(a.Errors, b.Errors), cmp.Compare(a.LogErrors, b.LogErrors),
			cmp.Compare(a.P95, b.P95), cmp.Compare(a.P50, b.P50), cmp.Compare(a.P99, b.P99),
			strings.Compare(a.ClientKind, b.ClientKind), strings.Compare(a.ServerKind, b.ServerKind))
	}
	a, b := &x.a, &y.a
	return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.TemplateID, b.TemplateID),
		strings.Compare(a.Line, b.Line), strings.Compare(a.Type, b.Type), cmp.Compare(a.Score, b.Score),
		strings.Compare(string(a.Severity), string(b.Severity)), cmp.Compare(a.LogSeverity, b.LogSeverity),
		strings.Compare(a.Template, b.Template))
}

// mergeShares merges, in evidence sorted by compareEvidence, the shares of one window that
// several replicas of the connector reported (each saw part of the traces): the edge windows of
// one edge and the service windows of one service with the same window. Counts add up; means are
// weighted by their counts, exactly; percentiles are weighted by calls too (see tail), which
// estimates the whole window's when the replicas see alike traffic (traces are spread by trace
// id). It
// returns the merged slice (in place) and how many shares were merged away.
func mergeShares(ev []evidence) ([]evidence, int) {
	out := ev[:0]
	merged := 0
	for i := range ev {
		x := &ev[i]
		if n := len(out); n > 0 {
			last := &out[n-1]
			switch {
			case x.edge && last.edge && last.t == x.t && sameEdgeWindow(&last.w, &x.w):
				addEdgeShare(&last.w, &x.w)
				merged++
				continue
			case x.svc && last.svc && last.t == x.t && last.sw.Service == x.sw.Service &&
				last.sw.WindowStart == x.sw.WindowStart && last.sw.WindowEnd == x.sw.WindowEnd:
				addServiceShare(&last.sw, &x.sw)
				merged++
				continue
			}
		}
		out = append(out, *x)
	}
	clear(ev[len(out):])
	return out, merged
}

func sameEdgeWindow(a, b *rca.EdgeWindow) bool {
	return a.Client == b.Client && a.Server == b.Server && a.ConnType == b.ConnType &&
		a.WindowStart == b.WindowStart && a.WindowEnd == b.WindowEnd
}

// weighted is the mean of x (weight m) and y (weight n); with no weight, the larger.
func weighted(x float64, m int64, y float64, n int64) float64 {
	if m+n <= 0 {
		return max(x, y)
	}
	return (x*float64(m) + y*float64(n)) / float64(m+n)
}

// tail merges the q-th percentiles x and y of m and n calls. The connector's q-th percentile
// of fewer than 1/(1-q) calls is their maximum, and so is the merged one then (exact);
// otherwise the calls-weighted mean estimates it.
func tail(x float64, m int64, y float64, n int64, q float64) float64 {
	if float64(m+n) < 1/(1-q) {
		return max(x, y)
	}
	return weighted(x, m, y, n)
}

func addEdgeShare(a, b *rca.EdgeWindow) {
	a.P50 = weighted(a.P50, a.Calls, b.P50, b.Calls)
	a.P95 = tail(a.P95, a.Calls, b.P95, b.Calls, 0.95)
	a.P99 = tail(a.P99, a.Calls, b.P99, b.Calls, 0.99)
	a.GapP50 = weighted(a.GapP50, a.GapCalls, b.GapP50, b.GapCalls)
	switch {
	case b.GapCalls == 0:
	case a.GapCalls == 0:
		a.GapLegs, a.GapRequestMs, a.GapResponseMs = b.GapLegs, b.GapRequestMs, b.GapResponseMs
	case a.GapLegs && b.GapLegs:
		a.GapRequestMs = weighted(a.GapRequestMs, a.GapCalls, b.GapRequestMs, b.GapCalls)
		a.GapResponseMs = weighted(a.GapResponseMs, a.GapCalls, b.GapResponseMs, b.GapCalls)
	default: // one share without legs (an older connector): the merged window has none
		a.GapLegs, a.GapRequestMs, a.GapResponseMs = false, 0, 0
	}
	a.Calls += b.Calls
	a.Errors += b.Errors
	a.LogErrors += b.LogErrors
	a.GapCalls += b.GapCalls
}

func addServiceShare(a, b *rca.ServiceWindow) {
	a.SelfMs = weighted(a.SelfMs, a.Spans, b.SelfMs, b.Spans)
	a.EgressMs = weighted(a.EgressMs, a.EgressSpans, b.EgressMs, b.EgressSpans)
	a.Spans += b.Spans
	a.Errors += b.Errors
	a.EgressSpans += b.EgressSpans
}

// batchInput is what one ConsumeLogs call carries for the engine, and the event-time progress
// it shows: per log service (every record counts, normal ones too) and per edge stream.
type batchInput struct {
	evidence []evidence
	verdicts []verdict  // LLM verdict records: context only, never evidence nor progress
	logs     []progress // per resource: service and latest event time
	edges    []progress // per edge stream (connector): latest complete window end
	maxTime  int64
	bad      int
	fixes    [3]int // by eventtime.Fix
}

type progress struct {
	source string
	t      int64
}

// read extracts anomalous records, edge records and progress; everything else only shows
// progress. Timestamps are stamped with clk (impossible or skewed ones are re-stamped and
// counted) at wall-clock time wall.
func (in *batchInput) read(ld plog.Logs, clk *eventtime.Clock, wall int64) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		service, stream := "", ""
		if v, ok := rl.Resource().Attributes().Get(contract.AttrServiceName); ok {
			service = v.AsString()
			stream = service
		}
		if v, ok := rl.Resource().Attributes().Get(contract.AttrServiceInstanceID); ok && v.AsString() != "" {
			// one replica of a connector scaled out: a stream of its own (its windows are
			// merged with the other replicas' shares when applied, see mergeShares)
			stream = service + "\x00" + v.AsString()
		}
		var logMax, edgeMax int64
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				t, isEdge := in.record(service, lrs.At(k), clk, wall)
				if isEdge {
					edgeMax = max(edgeMax, t)
				} else {
					logMax = max(logMax, t)
				}
			}
		}
		if logMax > 0 && service != "" {
			in.logs = append(in.logs, progress{service, logMax})
		}
		if edgeMax > 0 {
			in.edges = append(in.edges, progress{stream, edgeMax})
		}
	}
}

// record reads one record. It returns the event time it shows (0: none) and whether it belongs
// to an edge stream.
func (in *batchInput) record(service string, lr plog.LogRecord, clk *eventtime.Clock, wall int64) (int64, bool) {
	attrs := lr.Attributes()
	switch eventName(lr) {
	case edgeEventName:
		w, ok := edgeWindow(attrs)
		if !ok {
			in.bad++
			return 0, true
		}
		in.evidence = append(in.evidence, evidence{t: w.WindowEnd, edge: true, w: w})
		in.maxTime = max(in.maxTime, w.WindowEnd)
		return edgeProgress(w.WindowStart, w.WindowEnd), true
	case serviceEventName:
		sw := rca.ServiceWindow{
			Service:     getStr(attrs, contract.AttrGraphService),
			Spans:       getInt(attrs, contract.AttrGraphSpans),
			Errors:      getInt(attrs, contract.AttrGraphErrors),
			SelfMs:      getDouble(attrs, contract.AttrGraphSelfMean),
			EgressSpans: getInt(attrs, contract.AttrGraphEgressSpans),
			EgressMs:    getDouble(attrs, contract.AttrGraphEgressMean),
			WindowStart: getInt(attrs, attrWindowStart),
			WindowEnd:   getInt(attrs, attrWindowEnd),
		}
		if sw.Service == "" || sw.WindowEnd <= 0 {
			in.bad++
			return 0, true
		}
		in.evidence = append(in.evidence, evidence{t: sw.WindowEnd, svc: true, sw: sw})
		in.maxTime = max(in.maxTime, sw.WindowEnd)
		return edgeProgress(sw.WindowStart, sw.WindowEnd), true
	case progressEventName:
		end := getInt(attrs, attrWindowEnd)
		if end <= 0 {
			in.bad++
			return 0, true
		}
		return edgeProgress(getInt(attrs, attrWindowStart), end), true
	case contract.EventVerdict:
		// Sent when the model answered, stamped with the end of the window it judged: neither
		// evidence nor a sign of how far its service has got.
		if v, ok := readVerdict(service, lr); ok {
			in.verdicts = append(in.verdicts, v)
		} else {
			in.bad++
		}
		return 0, false
	}
	ts, obs := int64(lr.Timestamp()), int64(lr.ObservedTimestamp())
	t := ts
	if t == 0 {
		t = obs
	}
	t, fix := clk.Stamp(t, obs, wall)
	in.fixes[fix]++
	det, ok := attrs.Get(contract.AttrDetected)
	if !ok || det.Type() != pcommon.ValueTypeBool || !det.Bool() {
		return t, false
	}
	if service == "" {
		in.bad++
		return t, false
	}
	a := rca.Anomaly{
		Service:     service,
		Time:        t,
		Score:       getDouble(attrs, contract.AttrScore),
		Type:        getStr(attrs, contract.AttrType),
		TemplateID:  getStr(attrs, contract.AttrTemplateID),
		Template:    getStr(attrs, contract.AttrTemplate),
		Line:        lr.Body().AsString(),
		LogSeverity: int32(lr.SeverityNumber()),
	}
	a.Severity = incident.Severity(getStr(attrs, contract.AttrSeverity))
	in.evidence = append(in.evidence, evidence{t: t, a: a})
	in.maxTime = max(in.maxTime, t)
	return t, false
}

func eventName(lr plog.LogRecord) string {
	if n := lr.EventName(); n != "" {
		return n
	}
	if v, ok := lr.Attributes().Get(attrEventName); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

func edgeWindow(attrs pcommon.Map) (rca.EdgeWindow, bool) {
	w := rca.EdgeWindow{
		Client:      getStr(attrs, contract.AttrGraphClient),
		Server:      getStr(attrs, contract.AttrGraphServer),
		ClientKind:  getStr(attrs, contract.AttrGraphClientKind),
		ServerKind:  getStr(attrs, contract.AttrGraphServerKind),
		ConnType:    getStr(attrs, contract.AttrGraphConnType),
		Calls:       getInt(attrs, contract.AttrGraphCalls),
		Errors:      getInt(attrs, contract.AttrGraphErrors),
		LogErrors:   getInt(attrs, contract.AttrGraphLogErrors),
		P50:         getDouble(attrs, contract.AttrGraphP50),
		P95:         getDouble(attrs, contract.AttrGraphP95),
		P99:         getDouble(attrs, contract.AttrGraphP99),
		WindowStart: getInt(attrs, attrWindowStart),
		WindowEnd:   getInt(attrs, attrWindowEnd),
		GapCalls:    getInt(attrs, contract.AttrGraphGapCalls),
		GapP50:      getDouble(attrs, contract.AttrGraphGapP50),
	}
	req, okReq := lookupDouble(attrs, contract.AttrGraphGapRequest)
	resp, okResp := lookupDouble(attrs, contract.AttrGraphGapResponse)
	if okReq && okResp && w.GapCalls > 0 {
		w.GapLegs, w.GapRequestMs, w.GapResponseMs = true, req, resp
	}
	return w, w.Client != "" && w.Server != "" && w.WindowEnd > 0
}

func getStr(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

func getInt(m pcommon.Map, k string) int64 {
	v, ok := m.Get(k)
	if !ok {
		return 0
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return int64(v.Double())
	}
	return 0
}

func getDouble(m pcommon.Map, k string) float64 {
	v, _ := lookupDouble(m, k)
	return v
}

// lookupDouble returns the number under k (a double or an int) and whether there is one.
func lookupDouble(m pcommon.Map, k string) (float64, bool) {
	v, ok := m.Get(k)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		return v.Double(), true
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	}
	return 0, false
}
