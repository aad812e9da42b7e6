// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

package rcaexporter // import "github.com/otelcol-aiops/otelcol-aiops/exporter/rcaexporter"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-aiops/otelcol-aiops/internal/incident"
	"github.com/otelcol-aiops/otelcol-aiops/internal/rca"
)

// Names of the input contract (docs/attributes.md).
const (
	edgeEventName = "logs2graph.edge"
	attrEventName = "event.name"
)

// batchInput is what one ConsumeLogs call carries for the engine.
type batchInput struct {
	anomalies []rca.Anomaly
	edges     []rca.EdgeWindow
	maxTime   int64
	bad       int
}

// read extracts anomalous records and edge records; everything else is ignored (normal records
// are expected: the exporter usually sits behind the processor in a full logs pipeline).
func (in *batchInput) read(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		service := ""
		if v, ok := rl.Resource().Attributes().Get("service.name"); ok {
			service = v.AsString()
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				in.record(service, lrs.At(k))
			}
		}
	}
}

func (in *batchInput) record(service string, lr plog.LogRecord) {
	attrs := lr.Attributes()
	if isEdge(lr) {
		w, ok := edgeWindow(attrs)
		if !ok {
			in.bad++
			return
		}
		in.edges = append(in.edges, w)
		in.maxTime = max(in.maxTime, w.WindowEnd)
		return
	}
	det, ok := attrs.Get("anomaly.detected")
	if !ok || det.Type() != pcommon.ValueTypeBool || !det.Bool() {
		return
	}
	t := int64(lr.Timestamp())
	if t == 0 {
		t = int64(lr.ObservedTimestamp())
	}
	if service == "" || t == 0 {
		in.bad++
		return
	}
	a := rca.Anomaly{
		Service:     service,
		Time:        t,
		Score:       getDouble(attrs, "anomaly.score"),
		Type:        getStr(attrs, "anomaly.type"),
		TemplateID:  getStr(attrs, "log.record.template.id"),
		Template:    getStr(attrs, "log.record.template"),
		Line:        lr.Body().AsString(),
		LogSeverity: int32(lr.SeverityNumber()),
	}
	a.Severity = incident.Severity(getStr(attrs, "anomaly.severity"))
	in.anomalies = append(in.anomalies, a)
	in.maxTime = max(in.maxTime, t)
}

func isEdge(lr plog.LogRecord) bool {
	if lr.EventName() == edgeEventName {
		return true
	}
	v, ok := lr.Attributes().Get(attrEventName)
	return ok && v.Str() == edgeEventName
}

func edgeWindow(attrs pcommon.Map) (rca.EdgeWindow, bool) {
	w := rca.EdgeWindow{
		Client:      getStr(attrs, "graph.client"),
		Server:      getStr(attrs, "graph.server"),
		ClientKind:  getStr(attrs, "graph.client.kind"),
		ServerKind:  getStr(attrs, "graph.server.kind"),
		ConnType:    getStr(attrs, "graph.connection_type"),
		Calls:       getInt(attrs, "graph.calls"),
		Errors:      getInt(attrs, "graph.errors"),
		LogErrors:   getInt(attrs, "graph.log_errors"),
		P50:         getDouble(attrs, "graph.latency.p50_ms"),
		P95:         getDouble(attrs, "graph.latency.p95_ms"),
		P99:         getDouble(attrs, "graph.latency.p99_ms"),
		WindowStart: getInt(attrs, "graph.window.start"),
		WindowEnd:   getInt(attrs, "graph.window.end"),
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
	v, ok := m.Get(k)
	if !ok {
		return 0
	}
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeInt:
		return float64(v.Int())
	}
	return 0
}
