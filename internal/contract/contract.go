// Copyright The otelcol-aiops Authors
// SPDX-License-Identifier: Apache-2.0

// Package contract is the one definition of the seam between the components (docs/attributes.md):
// the attribute keys the llm_anomaly processor writes on log records, the event names and
// attribute keys of the logs2graph connector's records, the anomaly types, the severity bands of
// a score, and the rule that tells an error-level log record from its severity number or text.
// The processor, the connector, the rca exporter and the evaluation all use it, so the two sides
// of the seam cannot drift apart. It has no dependencies.
package contract // import "github.com/otelcol-aiops/otelcol-aiops/internal/contract"

import "strings"

// Resource attribute naming the service (semantic conventions).
const AttrServiceName = "service.name"

// AttrServiceInstanceID is the resource attribute naming one instance of a service (semantic
// conventions); the logs2graph connector writes its replica's instance id there.
const AttrServiceInstanceID = "service.instance.id"

// Attributes the llm_anomaly processor writes on every record.
const (
	AttrTemplate       = "log.record.template"
	AttrTemplateID     = "log.record.template.id"
	AttrTemplateParams = "log.record.template.params"
	AttrDetected       = "anomaly.detected"
	AttrScore          = "anomaly.score"
	AttrSeverity       = "anomaly.severity"
	AttrType           = "anomaly.type"
	AttrReason         = "anomaly.reason"
	AttrSource         = "anomaly.source"
	// AttrOriginalTimestamp keeps a re-stamped record's own timestamp (unix nanoseconds).
	AttrOriginalTimestamp = "log.record.original_timestamp"

	// SourceStatistical is the anomaly.source of the statistical detectors.
	SourceStatistical = "statistical"
	// SourceLLM: an LLM verdict asked for this record's window raised or confirmed the anomaly.
	SourceLLM = "llm"
	// SourceCache: the same, with the verdict of an earlier window of the same pattern (cache).
	SourceCache = "cache"
)

// Attributes of the optional LLM stage (docs/attributes.md). Records whose pattern (service and
// template) has a verdict carry the short ones; verdict records carry all of them.
const (
	AttrLLMVerdictID        = "anomaly.llm.verdict_id"
	AttrLLMModel            = "anomaly.llm.model"
	AttrLLMIsAnomaly        = "anomaly.llm.is_anomaly"
	AttrLLMSeverity         = "anomaly.llm.severity"
	AttrLLMType             = "anomaly.llm.anomaly_type"
	AttrLLMRootCause        = "anomaly.llm.root_cause"
	AttrLLMConfidence       = "anomaly.llm.confidence"
	AttrLLMExplanation      = "anomaly.llm.explanation"
	AttrLLMAffectedServices = "anomaly.llm.affected_services"
	AttrLLMRemediation      = "anomaly.llm.remediation_steps"
	AttrLLMTemplates        = "anomaly.llm.template_ids"
	AttrLLMStatistical      = "anomaly.llm.statistical"
	AttrLLMWindowStart      = "anomaly.llm.window.start"
	AttrLLMWindowEnd        = "anomaly.llm.window.end"
	AttrLLMInputTokens      = "anomaly.llm.tokens.input"
	AttrLLMOutputTokens     = "anomaly.llm.tokens.output"
	// AttrLLMBenign marks a statistical anomaly that a confident verdict called normal.
	AttrLLMBenign = "anomaly.llm.benign"
	// AttrSuppressed is set (with anomaly.detected=false) when can_suppress let a benign verdict
	// clear a statistical anomaly.
	AttrSuppressed = "anomaly.suppressed"

	// EventVerdict is the event name of a verdict record: one LLM answer about one service
	// window, sent by the processor when the answer arrives.
	EventVerdict = "llm_anomaly.verdict"
)

// Anomaly types (anomaly.type) of the processor's detectors and of the rca engine's own evidence.
const (
	TypeNewTemplate  = "new_template"
	TypeRareTemplate = "rare_template"
	TypeRateSpike    = "rate_spike"
	TypeRateDrop     = "rate_drop"
	TypeErrorBurst   = "error_burst"
	TypeSession      = "session"
	// TypeLLM is the type of an anomaly raised by an LLM verdict on records the detectors left
	// normal.
	TypeLLM = "llm"

	TypeEdgeErrors    = "edge_errors"
	TypeEdgeLatency   = "edge_latency"
	TypeEdgeLogErrors = "edge_log_errors"
	// TypeEdgeStopped: a busy edge's calls stopped while its caller kept working (rca).
	TypeEdgeStopped = "edge_stopped"
	TypeOwnTime     = "own_time"
	TypeEgressTime  = "egress_time"
	// TypeMetricPrefix starts the types of anomalies of a service's metrics (metric_cpu, ...).
	TypeMetricPrefix = "metric_"
)

// Event names of the logs2graph connector's records (the record's EventName and its
// event.name attribute).
const (
	AttrEventName = "event.name"

	EventEdge     = "logs2graph.edge"
	EventService  = "logs2graph.service"
	EventProgress = "logs2graph.progress"
	EventSnapshot = "logs2graph.snapshot"
)

// Attributes of the logs2graph connector's records.
const (
	AttrGraphClient       = "graph.client"
	AttrGraphServer       = "graph.server"
	AttrGraphConnType     = "graph.connection_type"
	AttrGraphCalls        = "graph.calls"
	AttrGraphErrors       = "graph.errors"
	AttrGraphLogErrors    = "graph.log_errors"
	AttrGraphP50          = "graph.latency.p50_ms"
	AttrGraphP95          = "graph.latency.p95_ms"
	AttrGraphP99          = "graph.latency.p99_ms"
	AttrGraphClientP95    = "graph.latency.client.p95_ms"
	AttrGraphServerP95    = "graph.latency.server.p95_ms"
	AttrGraphGapP95       = "graph.latency.gap.p95_ms"
	AttrGraphGapP50       = "graph.gap.p50_ms"
	AttrGraphGapCalls     = "graph.gap.calls"
	AttrGraphGapRequest   = "graph.gap.request_ms"
	AttrGraphGapResponse  = "graph.gap.response_ms"
	AttrGraphWindowStart  = "graph.window.start"
	AttrGraphWindowEnd    = "graph.window.end"
	AttrGraphSource       = "graph.source"
	AttrGraphFirstSeen    = "graph.first_seen"
	AttrGraphLastSeen     = "graph.last_seen"
	AttrGraphClientKind   = "graph.client.kind"
	AttrGraphServerKind   = "graph.server.kind"
	AttrGraphClientSystem = "graph.client.system"
	AttrGraphServerSystem = "graph.server.system"
	AttrGraphService      = "graph.service"
	AttrGraphSpans        = "graph.spans"
	AttrGraphSelfMean     = "graph.self_time.mean_ms"
	AttrGraphEgressSpans  = "graph.egress.spans"
	AttrGraphEgressMean   = "graph.egress.mean_ms"
)

// Severity bands of an anomaly score (anomaly.severity, incident severities).
const (
	SeverityCritical = "Critical"
	SeverityHigh     = "High"
	SeverityMedium   = "Medium"
	SeverityLow      = "Low"
)

// SeverityOf maps a score in (0, 1] to its band: >= 0.9 Critical, >= 0.7 High, >= 0.5 Medium,
// otherwise Low. A score <= 0 (or NaN) has no band ("").
func SeverityOf(score float64) string {
	switch {
	case !(score > 0):
		return ""
	case score >= 0.9:
		return SeverityCritical
	case score >= 0.7:
		return SeverityHigh
	case score >= 0.5:
		return SeverityMedium
	default:
		return SeverityLow
	}
}

// OpenTelemetry severity numbers used by the rules below.
const (
	SeverityNumberTrace = 1
	SeverityNumberDebug = 5
	SeverityNumberInfo  = 9
	SeverityNumberWarn  = 13
	SeverityNumberError = 17
	SeverityNumberFatal = 21
)

// SeverityFromText maps a severity text (any case, surrounding spaces ignored) to the
// OpenTelemetry severity number of its level: TRACE, DEBUG, INFO (INFORMATION, NOTICE), WARN
// (WARNING), ERROR (ERR, SEVERE), FATAL (CRITICAL, CRIT, ALERT, EMERG, EMERGENCY, PANIC,
// FAILURE). Unknown or empty text is 0.
func SeverityFromText(s string) int32 {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 16 {
		return 0
	}
	switch strings.ToUpper(s) {
	case "TRACE":
		return SeverityNumberTrace
	case "DEBUG":
		return SeverityNumberDebug
	case "INFO", "INFORMATION", "NOTICE":
		return SeverityNumberInfo
	case "WARN", "WARNING":
		return SeverityNumberWarn
	case "ERROR", "ERR", "SEVERE":
		return SeverityNumberError
	case "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC", "FAILURE":
		return SeverityNumberFatal
	}
	return 0
}

// Severity is a record's severity number: the number when set, else the number of its text.
func Severity(number int32, text string) int32 {
	if number > 0 {
		return number
	}
	return SeverityFromText(text)
}

// IsError reports whether a record with this severity number and text is error-level or worse.
func IsError(number int32, text string) bool {
	return Severity(number, text) >= SeverityNumberError
}
